"""The listing commands' DB-API read path answers exactly as the store does, on SQLite and
PostgreSQL, and steps aside (None) whenever the full path has something to do."""

from __future__ import annotations

import math
import os
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import invoke

import trackflow as tf
from trackflow.cli.reading import open_reader
from trackflow.exceptions import TrackflowError
from trackflow.registry.read_view import RegistryReadView
from trackflow.registry.store.listing import read_model_listing
from trackflow.tracking.client import Client
from trackflow.tracking.client_lifecycle import delete_runs
from trackflow.tracking.run_refs import list_runs
from trackflow.tracking.store.migrate import SCHEMA_HEAD, head_revision
from trackflow.tracking.store.read_path import open_read_path, schema_head, sqlite_path


def _seed(client: Client) -> dict[str, str]:
    """Runs of two experiments: nested runs, a deleted one, NaN metrics, tags, params."""
    ids: dict[str, str] = {}
    for i in range(4):
        with tf.start_run(experiment="alpha" if i % 2 else "beta", run_name=f"r{i}") as run:
            tf.log_params({"lr": str(0.1 * i), "depth": i})
            tf.log_metrics({"auc": 0.5 + i / 10, "loss": float("nan") if i == 2 else 1.0 / (i + 1)})
            tf.set_tags({"team": "x", "i": str(i)})
            with tf.start_run(run_name=f"child{i}", nested=True) as child:
                tf.log_metric("step_loss", i)
            ids[f"r{i}"], ids[f"child{i}"] = run.id, child.id
    client.flush()
    delete_runs(client, [client.get_run(ids["r3"])])
    return ids


def _same(left: list[tf.Run], right: list[tf.Run]) -> None:
    assert [r.id for r in left] == [r.id for r in right]
    for a, b in zip(left, right, strict=True):
        assert {k: v for k, v in vars(a).items() if k != "metrics"} == {k: v for k, v in vars(b).items() if k != "metrics"}
        assert a.metrics.keys() == b.metrics.keys()
        for key, value in a.metrics.items():
            assert value == b.metrics[key] or (math.isnan(value) and math.isnan(b.metrics[key]))


@pytest.mark.parametrize(
    ("experiments", "top_level", "deleted", "limit"),
    [(None, True, False, 100), (None, False, False, 100), (["alpha"], True, False, 100), (["beta", "alpha"], False, None, 3),
     (None, True, True, 100), (None, False, None, 2)],
)  # fmt: skip
def test_listing_matches_the_store(
    client: Client, experiments: list[str] | None, top_level: bool, deleted: bool | None, limit: int
) -> None:
    _seed(client)
    reader = open_reader()
    assert reader is not None
    with reader:
        fast = reader.list_runs(experiments, top_level=top_level, deleted=deleted, limit=limit)
    full = list_runs(client, experiments, None, max_results=limit, top_level=top_level, deleted=deleted)
    assert fast is not None and fast  # every combination lists something
    _same(fast, full)


def test_unknown_experiment_left_to_the_full_path(client: Client) -> None:
    _seed(client)
    reader = open_reader()
    assert reader is not None
    with reader:
        assert reader.list_runs(["alpah"], top_level=True, deleted=False, limit=10) is None


def test_model_listing_matches_the_registry(client: Client) -> None:
    from sklearn.linear_model import LogisticRegression

    registry = client.registry
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 1, 0, 1])
    for _ in range(3):
        registry.register_model(model, "clf")
    registry.register_model(model, "other")
    registry.transition("clf", 2, "staging")
    registry.transition("clf", 3, "production")
    registry.set_alias("clf", "champion", 3)
    registry.update_model("clf", description="churn", tags={"team": "x"})
    reader = open_reader()
    assert reader is not None
    with reader:
        listing = read_model_listing(reader)
    assert [found.model for found in listing] == registry.list_models()
    for found in listing:
        expected: dict[str, list[int]] = {}
        for version in registry.list_versions(found.model.name):
            expected.setdefault(version.stage.value, []).append(version.version)
        assert found.stages == expected
    assert listing[0].stages["production"] == [3] and listing[0].model.aliases == {"champion": 3}


def _raised(call: Callable[[], object]) -> tuple[str, str, str | None]:
    with pytest.raises(TrackflowError) as caught:
        call()
    return type(caught.value).__name__, str(caught.value), caught.value.hint


def test_model_reads_match_the_registry(client: Client) -> None:
    from sklearn.linear_model import LogisticRegression

    registry = client.registry
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 1, 0, 1])
    for i in range(3):
        registry.register_model(model, "clf", description=f"v{i}", tags={"i": i, "team": "x"})
    registry.register_model(model, "other")
    registry.transition("clf", 2, "staging", reason="looks good", details={"auc": 0.9})
    registry.transition("clf", 2, "production")
    registry.transition("clf", 3, "production")
    registry.set_alias("clf", "champion", 3)
    registry.set_alias("clf", "backup", 3)
    registry.record_deployment("clf", 2, target="http://127.0.0.1:9/a", details={"replicas": 2})
    registry.record_deployment("clf", 3, target="http://127.0.0.1:9/a")
    registry.record_deployment("clf", 3, target="http://127.0.0.1:9/b", deployment_name="canary")
    reader = open_reader()
    assert reader is not None
    with reader:
        view = RegistryReadView(reader)
        assert view.get_model("clf") == registry.get_model("clf")
        assert view.get_model("other") == registry.get_model("other")
        assert view.list_versions("clf") == registry.list_versions("clf")
        assert [v.version for v in view.list_versions("clf", stage="Archived")] == [2]
        for stage in ("production", "archived", "development", "staging"):
            assert view.list_versions("clf", stage=stage) == registry.list_versions("clf", stage=stage)
        assert view.history("clf") == registry.history("clf") and len(view.history("clf")) == 7  # 3 created, 4 moves
        assert view.history("clf", version="2") == registry.history("clf", version=2)
        assert view.deployments("clf") == registry.deployments("clf") and len(view.deployments("clf")) == 3
        assert view.deployments("other") == [] and view.history("other") == registry.history("other")
        for call in ("get_model", "list_versions", "history", "deployments"):
            assert _raised(lambda c=call: getattr(view, c)("bad name!")) == _raised(
                lambda c=call: getattr(registry, c)("bad name!"))
        for call in ("get_model", "list_versions", "history"):
            assert _raised(lambda c=call: getattr(view, c)("clff")) == _raised(lambda c=call: getattr(registry, c)("clff"))
        assert _raised(lambda: view.list_versions("clf", stage="live")) == _raised(
            lambda: registry.list_versions("clf", stage="live"))
        assert _raised(lambda: view.history("clf", version="x")) == _raised(lambda: registry.history("clf", version="x"))


def test_commands_print_the_same_through_both_paths(client: Client, capsys: pytest.CaptureFixture[str]) -> None:
    _seed(client)
    for fmt in ("table", "json", "csv"):
        _, fast, _ = invoke(["runs", "list", "--all", "--format", fmt], capsys)
        _, full, _ = invoke(["runs", "list", "--all", "--format", fmt, "--order-by", "attributes.start_time DESC"], capsys)
        assert fast == full and "child1" in fast


def test_schema_head_is_the_newest_migration() -> None:
    assert schema_head() == SCHEMA_HEAD == head_revision()


def test_sqlite_paths() -> None:
    assert sqlite_path("sqlite:////tmp/x.db") == Path("/tmp/x.db")
    assert sqlite_path("sqlite:///rel/x.db") == Path("rel/x.db")
    for uri in ("sqlite://", "sqlite:///:memory:", "sqlite:///file:x?mode=memory&uri=true", "sqlite:///x.db?timeout=3"):
        assert sqlite_path(uri) is None


def test_steps_aside_when_the_full_path_has_work(tmp_path: Path, client: Client, store_uri: str) -> None:
    home = Path(os.environ["TRACKFLOW_HOME"])
    _seed(client)
    assert open_read_path(store_uri, home=home) is not None
    spool = home / "spool"  # a spool to replay
    spool.mkdir(parents=True, exist_ok=True)
    (spool / "1-host-1-abc.jsonl").write_text("")
    assert open_read_path(store_uri, home=home) is None
    (spool / "1-host-1-abc.jsonl").unlink()
    assert open_read_path(f"sqlite:///{tmp_path / 'missing.db'}", home=home) is None  # to be created
    assert not (tmp_path / "missing.db").exists()


def test_an_older_schema_is_left_to_the_full_path(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        connection.execute("INSERT INTO alembic_version VALUES ('0001')")
    assert open_read_path(f"sqlite:///{path}", home=tmp_path) is None
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    assert open_read_path(f"sqlite:///{empty}", home=tmp_path) is None


def test_outdated_database_reports_through_the_cli(tmp_path: Path, tracking_home: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    tracking_home.mkdir(parents=True)
    with sqlite3.connect(tracking_home / "trackflow.db") as connection:
        connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        connection.execute("INSERT INTO alembic_version VALUES ('0001')")
        connection.execute("CREATE TABLE experiments (id VARCHAR(32) PRIMARY KEY)")
    code, _, err = invoke(["runs", "list"], capsys)
    assert code == 1 and re.search(r"schema revision '0001'.*trackflow db upgrade", err, re.S)


def test_unreachable_database_left_to_the_full_path(tracking_home: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    uri = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    assert open_read_path(uri, home=tracking_home) is None
    monkeypatch.setenv("TRACKFLOW_TRACKING_URI", uri)
    code, _, err = invoke(["runs", "list"], capsys)
    assert code == 1 and "The tracking database failed" in err and "Traceback" not in err
