"""The model registry on a real SQLite file and PostgreSQL: versions, stages, aliases, tags."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sqlalchemy import create_engine, text

from trackflow.exceptions import (
    AlreadyExistsError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    StoreError,
)
from trackflow.registry.entities import Stage, VersionStatus
from trackflow.registry.model_format import payload_sha256
from trackflow.registry.uris import parse_model_uri
from trackflow.tracking.client import Client

TABLES = (
    "registered_models", "registered_model_tags", "model_versions", "model_version_tags", "model_aliases",
    "stage_transitions", "lineage_edges", "artifacts", "runs",
)  # fmt: skip


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return pd.DataFrame({"age": [25, 40, 33, 51, 29, 60], "spend": [1.0, 9.5, 3.2, 7.7, 2.2, 8.8],
                         "visits": [1, 8, 3, 9, 2, 7], "tenure": [0.5, 6.0, 2.0, 8.0, 1.0, 9.0]})


@pytest.fixture(scope="module")
def model(frame: pd.DataFrame) -> LogisticRegression:
    return LogisticRegression().fit(frame, [0, 1, 0, 1, 0, 1])


def snapshot(client: Client) -> dict[str, Any]:
    """Row counts of the registry and tracking tables plus the files of the artifact store."""
    engine = create_engine(client.tracking_uri.replace("postgresql://", "postgresql+psycopg://", 1))
    try:  # a connection of its own, as another process would open it
        with engine.connect() as conn:
            counts = {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar() for t in TABLES}
    finally:
        engine.dispose()
    return {**counts, "files": sorted(client.artifacts.list(""))}


def new_run(client: Client, frame: pd.DataFrame, auc: float = 0.8) -> str:
    run = client.create_run("churn")
    client.log_metric(run.id, "roc_auc", auc)
    client.log_dataset(run.id, frame, "train")
    client.flush()
    return run.id


# ---------------------------------------------------------------------------- versions


def test_register_model_numbers_versions_per_model_and_links_run(client: Client, model: Any, frame: pd.DataFrame) -> None:
    registry = client.registry
    run_a, run_b, run_c = (new_run(client, frame) for _ in range(3))
    v1 = registry.register_model(model, "churn-clf", run_id=run_a, input_example=frame.head(2))
    v2 = registry.register_model(model, "churn-clf", run_id=run_b)
    other = registry.register_model(model, "fraud.v2_x", run_id=run_c)
    assert (v1.version, v2.version, other.version) == (1, 2, 1)
    assert v1.status is VersionStatus.READY and v1.stage is Stage.DEVELOPMENT
    assert v1.source == f"runs:/{run_a}/model" and v1.run_id == run_a and v1.uri == "models:/churn-clf/1"
    package = client.artifacts.local_path(f"{run_a}/model")
    assert v1.payload_sha256 == payload_sha256(package)
    paths = {a.path for a in client.list_artifacts(run_a, "model")}
    assert {"model/trackflow-model.yaml", "model/model.skops"} <= paths
    first = registry.history("churn-clf", version=1)[0]
    assert (first.from_stage, first.to_stage, first.reason) == (None, Stage.DEVELOPMENT, "registered")
    graph = client.lineage("models:/churn-clf/1", direction="upstream")
    assert f"run:{run_a}" in graph.nodes and any(n.startswith("dataset:") for n in graph.nodes)
    package_node = f"model:runs:/{run_a}/model"  # one node for the package, its files are not nodes
    edges = {(e.source, e.relation, e.target) for e in graph.edges}
    assert (f"run:{run_a}", "produced", package_node) in edges
    assert (package_node, "registered_as", "model:churn-clf/1") in edges
    assert graph.nodes[package_node].kind == "model" and graph.nodes["model:churn-clf/1"].kind == "model_version"
    assert not any(n.startswith("artifact:") for n in graph.nodes)
    assert [m.name for m in registry.list_models()] == ["churn-clf", "fraud.v2_x"]
    assert registry.get_model("churn-clf").latest_version == 2
    assert [v.version for v in registry.list_versions("churn-clf")] == [1, 2]
    assert registry.get_version("churn-clf", "2") == v2


def test_create_version_registers_a_logged_package(client: Client, model: Any, frame: pd.DataFrame) -> None:
    registry = client.registry
    run_id = new_run(client, frame)
    v1 = registry.register_model(model, "m", run_id=run_id, artifact_path="pkg/clf")
    by_runs_uri = registry.create_version("m", source=f"runs:/{run_id}/pkg/clf", run_id=run_id, description="same")
    by_file_uri = registry.create_version("m", source=client.artifact_uri(run_id, "pkg/clf"), tags={"team": "risk"})
    assert [by_runs_uri.version, by_file_uri.version] == [2, 3]
    assert by_file_uri.source == v1.source == f"runs:/{run_id}/pkg/clf"
    assert by_file_uri.payload_sha256 == v1.payload_sha256 and by_file_uri.tags == {"team": "risk"}
    assert by_runs_uri.description == "same"


def test_outside_a_run_registration_makes_its_own_run(client: Client, model: Any) -> None:
    version = client.registry.register_model(model, "solo")
    run = client.get_run(version.run_id)
    assert run.status.value == "FINISHED" and run.name == "register-solo"


def test_a_package_is_never_overwritten(client: Client, model: Any, frame: pd.DataFrame) -> None:
    run_id = new_run(client, frame)
    client.registry.register_model(model, "m", run_id=run_id)
    before = snapshot(client)
    with pytest.raises(AlreadyExistsError, match="never overwritten"):  # an explicit path that is taken
        client.registry.register_model(model, "m", run_id=run_id, artifact_path="model")
    assert snapshot(client) == before


def test_a_failed_package_write_registers_nothing(client: Client, model: Any, frame: pd.DataFrame, tmp_path: Path) -> None:
    run_id = new_run(client, frame)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    broken = Client(client.tracking_uri, artifact_root=str(blocker / "artifacts"))
    before = snapshot(client)
    with pytest.raises(StoreError, match="Could not store the model package"):
        broken.registry.register_model(model, "m", run_id=run_id)
    with pytest.raises(InvalidInputError):  # not an sklearn estimator: skops refuses it
        client.registry.register_model(object(), "m", run_id=run_id)
    assert snapshot(client) == before
    with pytest.raises(NotFoundError, match="No registered model named 'm'"):
        client.registry.get_model("m")


BAD_NAMES = ["", " ", "a b", "a/b", "-lead", ".hidden", "x" * 257, "ünï", "a\nb", "a@b", "a:b", None, 7]


def test_bad_names_are_rejected_before_anything_is_written(client: Client, model: Any, frame: pd.DataFrame) -> None:
    run_id = new_run(client, frame)
    client.registry.register_model(model, "ok", run_id=run_id)
    before = snapshot(client)
    for name in BAD_NAMES:
        with pytest.raises(InvalidInputError):
            client.registry.register_model(model, name, run_id=run_id, artifact_path="other")
        with pytest.raises(InvalidInputError):
            client.registry.create_model(name)
        with pytest.raises(InvalidInputError):
            client.registry.create_version(name, source=f"runs:/{run_id}/model")
        with pytest.raises(InvalidInputError):
            client.registry.transition(name, 1, "staging")
    assert snapshot(client) == before
    assert client.registry.register_model(model, "x" * 256, run_id=run_id, artifact_path="long").version == 1


def test_bad_sources_are_rejected_before_anything_is_written(client: Client, model: Any, frame: pd.DataFrame) -> None:
    registry = client.registry
    run_id, other_run = new_run(client, frame), new_run(client, frame)
    registry.register_model(model, "m", run_id=run_id)
    root = client.artifacts.root_uri
    bad = [
        "file:///etc", "file:///etc/passwd", "/etc/passwd", "//proc/self/root/etc/passwd", "../model",
        f"runs:/{run_id}/../{other_run}/model", f"runs:/{run_id}/model#frag", f"runs:/{run_id}/model?x=1",
        f"runs:/{run_id}/", "runs:/not-a-run/model", f"{root}/{run_id}/model#x", f"{root}/../{run_id}/model",
        f"{root}/{run_id}/%2e%2e/model", f"{root}", f"{root}/notarun/model", "s3://bucket/model", "", None,
        f"file://{root[len('file://'):]}/../../etc",
    ]  # fmt: skip
    before = snapshot(client)
    for source in bad:
        with pytest.raises(InvalidInputError):
            registry.create_version("m", source=source)
    with pytest.raises(InvalidInputError, match="belongs to run"):
        registry.create_version("m", source=f"runs:/{run_id}/model", run_id=other_run)
    with pytest.raises(NotFoundError, match="No trackflow model package"):
        registry.create_version("m", source=f"runs:/{other_run}/model")
    assert snapshot(client) == before
    assert [v.version for v in registry.list_versions("m")] == [1]


# ------------------------------------------------------------------------------ stages


def test_stage_transitions_follow_the_table_and_are_audited(client: Client, model: Any, frame: pd.DataFrame) -> None:
    registry = client.registry
    for _ in range(3):
        registry.register_model(model, "m", run_id=new_run(client, frame))
    staged = registry.transition("m", 1, "staging", reason="smoke tests", details={"auc": 0.91, "nan": float("nan")})
    assert staged.stage is Stage.STAGING
    assert registry.transition("m", 1, "Production", reason="beats nothing").stage is Stage.PRODUCTION
    before = snapshot(client)
    with pytest.raises(ConflictError, match="already in production"):
        registry.transition("m", 1, "production")
    with pytest.raises(ConflictError, match="cannot move from production to development"):
        registry.transition("m", 1, "development")
    with pytest.raises(InvalidInputError, match="Unknown stage"):
        registry.transition("m", 1, "prod")
    with pytest.raises(NotFoundError, match=r"no version 9\. Versions: 1 \(production\), 2 \(development\)"):
        registry.transition("m", 9, "staging")
    with pytest.raises(ConflictError, match="in production already"):
        registry.transition("m", 2, "production", archive_existing=False)
    with pytest.raises(InvalidInputError):
        registry.transition("m", 2, "staging", details={"bad": object()})
    assert snapshot(client) == before
    registry.transition("m", 2, "production", reason="beats v1")
    assert [(v.version, v.stage.value) for v in registry.list_versions("m")] == [
        (1, "archived"), (2, "production"), (3, "development")]  # fmt: skip
    with pytest.raises(ConflictError, match="cannot move from archived to production"):
        registry.transition("m", 1, "production")
    assert registry.transition("m", 1, "staging").stage is Stage.STAGING
    history = [(t.version, t.from_stage, t.to_stage, t.reason) for t in registry.history("m")]
    assert history[3:] == [
        (1, Stage.DEVELOPMENT, Stage.STAGING, "smoke tests"),
        (1, Stage.STAGING, Stage.PRODUCTION, "beats nothing"),
        (1, Stage.PRODUCTION, Stage.ARCHIVED, "replaced in production by version 2"),
        (2, Stage.DEVELOPMENT, Stage.PRODUCTION, "beats v1"),
        (1, Stage.ARCHIVED, Stage.STAGING, None),
    ]
    audited = registry.history("m", version=1)[1]
    assert audited.details == {"auc": 0.91, "nan": "nan"} and audited.user and audited.flow_run_id is None
    assert audited.when == audited.created_at
    assert [v.version for v in registry.list_versions("m", stage="production")] == [2]


# ----------------------------------------------------------------------------- aliases


def test_aliases_move_atomically_and_are_validated(client: Client, model: Any, frame: pd.DataFrame) -> None:
    registry = client.registry
    for _ in range(2):
        registry.register_model(model, "m", run_id=new_run(client, frame))
    assert registry.set_alias("m", "champion", 1).aliases == ("champion",)
    assert registry.set_alias("m", "champion", 2).aliases == ("champion",)
    registry.set_alias("m", "shadow_2-b", 2)
    assert registry.get_version("m", 1).aliases == ()
    assert registry.get_model("m").aliases == {"champion": 2, "shadow_2-b": 2}
    before = snapshot(client)
    for alias in ["", "Champion", "a b", "x" * 65, "a/b", "a@b", None]:
        with pytest.raises(InvalidInputError):
            registry.set_alias("m", alias, 1)
    with pytest.raises(NotFoundError, match=r"no version 5.*aliases: champion -> 2, shadow_2-b -> 2"):
        registry.set_alias("m", "champion", 5)
    with pytest.raises(NotFoundError, match="No registered model named 'nope'"):
        registry.set_alias("nope", "champion", 1)
    with pytest.raises(NotFoundError, match="no alias 'ghost'"):
        registry.delete_alias("m", "ghost")
    assert snapshot(client) == before
    registry.delete_alias("m", "shadow_2-b")
    assert registry.get_model("m").aliases == {"champion": 2}


# ------------------------------------------------------------------ tags, descriptions


def test_descriptions_and_tags_are_editable(client: Client, model: Any, frame: pd.DataFrame) -> None:
    registry = client.registry
    created = registry.create_model("m", description="Churn model", tags={"team": "risk", "tier": 1})
    assert created.tags == {"team": "risk", "tier": "1"} and created.latest_version is None
    with pytest.raises(AlreadyExistsError):
        registry.create_model("m")
    registry.register_model(model, "m", run_id=new_run(client, frame), description="first", tags={"algo": "lr"})
    updated = registry.update_model("m", description="Churn model v2", tags={"tier": 2}, remove_tags=["team"])
    assert (updated.description, updated.tags) == ("Churn model v2", {"tier": "2"})
    assert registry.update_model("m").description == "Churn model v2"
    assert registry.update_model("m", description="").description is None
    version = registry.update_version("m", 1, description="tuned", tags={"owner": "ana"}, remove_tags=["algo"])
    assert (version.description, version.tags) == ("tuned", {"owner": "ana"})
    before = snapshot(client)
    with pytest.raises(NotFoundError):
        registry.update_version("m", 2, description="x")
    with pytest.raises(NotFoundError):
        registry.update_model("other", description="x")
    with pytest.raises(InvalidInputError):
        registry.update_model("m", tags={"a/b": 1})
    with pytest.raises(InvalidInputError):
        registry.update_version("m", 1, tags="notamapping")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        registry.update_version("m", 0, description="x")
    assert snapshot(client) == before


# -------------------------------------------------------------------------------- URIs


def test_every_uri_form_resolves(client: Client, model: Any, frame: pd.DataFrame) -> None:
    registry = client.registry
    for _ in range(4):
        registry.register_model(model, "m", run_id=new_run(client, frame))
    registry.transition("m", 1, "production")
    registry.transition("m", 2, "staging")
    registry.transition("m", 3, "staging")
    registry.set_alias("m", "champion", 2)
    resolved = {
        uri: registry.resolve(uri).version
        for uri in ["models:/m/1", "models:/m/latest", "models:/m/production", "models:/m/staging",
                    "models:/m/Staging", "models:/m/development", "models:/m@champion", "models:/m/0004"]
    }  # fmt: skip
    assert resolved == {
        "models:/m/1": 1, "models:/m/latest": 4, "models:/m/production": 1, "models:/m/staging": 3,
        "models:/m/Staging": 3, "models:/m/development": 4, "models:/m@champion": 2, "models:/m/0004": 4,
    }  # fmt: skip


def test_unresolvable_uris_list_what_exists(client: Client, model: Any, frame: pd.DataFrame) -> None:
    registry = client.registry
    registry.register_model(model, "m", run_id=new_run(client, frame))
    registry.transition("m", 1, "production")
    registry.set_alias("m", "champion", 1)
    for uri in ["models:/m/archived", "models:/m/7", "models:/m@ghost"]:
        with pytest.raises(NotFoundError) as info:
            registry.resolve(uri)
        assert "Versions: 1 (production); aliases: champion -> 1." in str(info.value)
        assert info.value.hint and "models:/m/<version>" in info.value.hint
    with pytest.raises(NotFoundError, match="Registered models: m"):
        registry.resolve("models:/other/1")


MALFORMED_URIS = ["", "m", "models:/", "models:/m", "models:/m/", "models:/m/1/2", "models:/m/prod", "models:/m/-1",
     "models:/m/0", "models:/m@", "models:/m@Bad", "models:/@x", "models:/a b/1", "models://m/1",
     "runs:/abc/model", "runs:/", "model:/m/1", "http://x/m", "models:/m/٣", "models:/m/99999999999", None]  # fmt: skip


@pytest.mark.parametrize("uri", MALFORMED_URIS)
def test_malformed_uris_are_invalid_input(uri: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_model_uri(uri)


def test_malformed_uris_are_refused_by_the_registry_and_loader(client: Client) -> None:
    from trackflow.registry.loading import load_model

    for uri in MALFORMED_URIS:
        with pytest.raises(InvalidInputError):
            client.registry.resolve(uri)
        with pytest.raises(InvalidInputError):
            load_model(uri, client=client)
