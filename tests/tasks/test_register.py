"""The register_model task in real Prefect flows, its promotion policy, events and model card."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from cards import read_card
from sklearn.linear_model import LogisticRegression

import trackflow as tf
from trackflow.exceptions import InvalidInputError
from trackflow.registry.entities import Stage
from trackflow.tracking.client import Client

POLICY = "metrics.roc_auc >= production.metrics.roc_auc + 0.005"
BEAT_CHAMPION = "metrics.roc_auc > @champion.metrics.roc_auc"


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return pd.DataFrame({"age": [22, 41, 35, 58, 27, 63], "spend": [1.5, 8.0, 2.5, 9.1, 1.1, 7.4]})


@pytest.fixture(scope="module")
def model(frame: pd.DataFrame) -> LogisticRegression:
    return LogisticRegression().fit(frame, [0, 1, 0, 1, 0, 1])


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every event trackflow publishes, recorded on its way to Prefect."""
    from trackflow.dashboard import publish

    seen: list[dict[str, Any]] = []
    original = publish.publish_event

    def spy(event: str, **kwargs: Any) -> Any:
        seen.append({"event": event, **kwargs})
        return original(event, **kwargs)

    monkeypatch.setattr(publish, "publish_event", spy)
    return seen


def pipeline(model: Any, frame: pd.DataFrame, auc: float, **options: Any) -> tuple[Any, str]:
    """A Prefect flow that tracks a run, logs roc_auc and registers the model with the task."""
    from prefect import flow
    from prefect.runtime import flow_run

    from trackflow.tasks import register_model

    @flow(name="train-and-register")
    def train_and_register() -> tuple[Any, str]:
        with tf.start_run(experiment="churn"):
            tf.log_metric("roc_auc", auc)
            tf.log_dataset(frame, "train")
            version = register_model(model, "churn", input_example=frame.head(3), **options)
        return version, flow_run.id

    return train_and_register()


@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.parametrize("store_uri", ["sqlite"], indirect=True)  # flows are slow; the store contract runs on both elsewhere
def test_register_model_task_stages_and_applies_the_policy(
    client: Client, model: Any, frame: pd.DataFrame, events: list[dict[str, Any]]
) -> None:
    v1, flow_run_1 = pipeline(model, frame, 0.80, stage="staging", promote_if=POLICY)
    assert (v1.version, v1.stage) == (1, Stage.PRODUCTION)
    v2, _ = pipeline(model, frame, 0.802, stage="staging", promote_if=POLICY)
    assert (v2.version, v2.stage) == (2, Stage.STAGING)
    v3, flow_run_3 = pipeline(model, frame, 0.90, promote_if=POLICY, reason="nightly retrain")
    assert (v3.version, v3.stage) == (3, Stage.PRODUCTION)
    registry = client.registry
    assert [(v.version, v.stage.value) for v in registry.list_versions("churn")] == [
        (1, "archived"), (2, "staging"), (3, "production")]  # fmt: skip
    history = registry.history("churn")
    reasons = {(t.version, t.to_stage.value): t.reason for t in history}
    assert "no production version exists" in reasons[(1, "production")]
    assert reasons[(2, "staging")].startswith("promote_if failed")
    assert "roc_auc=0.802 is not >= production v1 roc_auc=0.8 + 0.005" in reasons[(2, "staging")]
    assert reasons[(3, "development")] == "nightly retrain"
    assert reasons[(3, "production")].startswith("promote_if passed") and "roc_auc=0.9 >=" in reasons[(3, "production")]
    assert reasons[(1, "archived")] == "replaced in production by version 3"
    failed = next(t for t in history if (t.version, t.to_stage) == (2, Stage.STAGING))
    assert failed.details["promotion"]["passed"] is False
    assert failed.details["promotion"]["candidate_value"] == 0.802 and failed.details["promotion"]["reference_value"] == 0.8
    assert failed.details["promotion"]["threshold"] == pytest.approx(0.805) and failed.details["promotion"]["reference_version"] == 1
    assert {t.flow_run_id for t in history if t.version == 1 and t.to_stage is not Stage.ARCHIVED} == {str(flow_run_1)}
    assert {t.flow_run_id for t in history if t.version == 3} == {str(flow_run_3)}
    names = [e["event"] for e in events]
    assert names.count("trackflow.model.registered") == 3
    assert names.count("trackflow.model.transitioned") == 5  # v1 staging+production, v2 staging, v3 production+v1 archived
    registered = next(e for e in events if e["event"] == "trackflow.model.registered")
    assert registered["resource_id"] == "trackflow.model.churn"
    related = {r["prefect.resource.role"]: r["prefect.resource.id"] for r in registered["related"]}
    assert related["model-version"] == "trackflow.model-version.churn.1"
    assert related["run"] == f"trackflow.run.{v1.run_id}" and related["flow-run"] == f"prefect.flow-run.{flow_run_1}"
    card = read_card("model-card-churn")
    assert "# Model card: churn v3" in card and "```mermaid" in card and "| input column | dtype |" in card
    assert "| age | int64 |" in card and "nightly retrain" in card


@pytest.mark.usefixtures("prefect_harness")
def test_register_model_task_outside_a_tracked_run_makes_one(tracking_home: Any, model: Any) -> None:
    from prefect import flow

    from trackflow.tasks import register_model

    @flow
    def register_only() -> Any:
        return register_model(model, "bare", stage="staging")

    version = register_only()
    client = Client()
    run = client.get_run(version.run_id)
    assert (run.kind, run.status.value, run.name) == ("task", "FINISHED", "register-bare")
    assert run.flow_run_id is not None and version.stage is Stage.STAGING


def test_register_and_stage_records_a_failed_policy_on_the_registration(client: Client, model: Any) -> None:
    from trackflow.tasks.register import register_and_stage

    with tf.start_run(experiment="churn") as run:
        tf.log_metric("roc_auc", 0.7)
        first = register_and_stage(model, "m", client=client, stage="development", promote_if=BEAT_CHAMPION)
    assert first.stage is Stage.PRODUCTION  # no champion alias yet: nothing to beat
    client.registry.set_alias("m", "champion", 1)
    with tf.start_run(experiment="churn"):
        tf.log_metric("roc_auc", 0.7)
        second = register_and_stage(model, "m", client=client, promote_if=BEAT_CHAMPION)
    assert second.stage is Stage.DEVELOPMENT
    record = client.registry.history("m", version=2)[-1]
    assert record.to_stage is Stage.DEVELOPMENT and record.reason.startswith("promote_if failed")
    assert record.details["promotion"]["reference"] == "@champion"
    assert client.get_run(run.id).metrics == {"roc_auc": 0.7}


@pytest.mark.parametrize(
    ("options", "message"),
    [({"promote_if": "metrics.auc >= production.metrics.auc + os.system('x')"}, "Cannot parse"),
     ({"promote_if": "__import__('os')"}, "Cannot parse"),
     ({"stage": "production", "promote_if": POLICY}, "stage must be development or staging"),
     ({"stage": "live"}, "Unknown stage"),
     ({"source": "runs:/x/model"}, "not both")],
)  # fmt: skip
def test_register_and_stage_rejects_bad_input_before_writing(
    tracking_home: Any, model: Any, options: dict[str, Any], message: str
) -> None:
    from trackflow.tasks.register import register_and_stage

    client = Client()
    with pytest.raises(InvalidInputError, match=message):
        register_and_stage(model, "m", client=client, **options)
    assert client.registry.list_models() == [] and client.search_runs() == []


def test_model_card_renders_metrics_signature_lineage_and_history(client: Client, model: Any, frame: pd.DataFrame) -> None:
    from trackflow.dashboard.model_card import model_card_key, render_model_card

    run = client.create_run("churn")
    client.log_metric(run.id, "roc_auc", 0.91)
    client.log_param(run.id, "C", "1.0")
    client.log_dataset(run.id, frame, "train")
    client.registry.register_model(model, "churn", run_id=run.id, input_example=frame, description="Predicts churn")
    client.registry.transition("churn", 1, "staging", reason="looks | good")
    card = render_model_card(client, "churn", 1)
    assert card.startswith("# Model card: churn v1\n") and "Predicts churn" in card
    assert "| roc_auc | 0.91 |" in card and "| C | 1.0 |" in card
    assert "| age | int64 |" in card and "| spend | float64 |" in card
    assert "![lineage of churn v1](data:image/svg+xml;base64," in card  # renders in both Prefect UIs
    mermaid = card.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert mermaid.startswith("graph TD") and "model_version: churn v1" in mermaid and "dataset: train (" in mermaid
    assert "model: LogisticRegression" in mermaid or "model: " in mermaid
    assert "looks \\| good" in card
    assert model_card_key("Churn.V2") == "model-card-churn-v2"
