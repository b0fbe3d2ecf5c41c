"""promote_if sees the evaluate task's metrics: task metrics roll up into the flow run.

A tracked pipeline (load -> split -> train -> evaluate) registers its model in the flow
body with ``promote_if``; the evaluate task returns ``{"r2": ...}``. The flow run, the
``trackflow.run.finished`` event, the model card and the promotion decision all see r2.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from cards import read_card
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.metrics import mean_absolute_error, r2_score
from sklearn.model_selection import train_test_split

import trackflow as tf
from trackflow import flow, task
from trackflow.registry.entities import Stage
from trackflow.tracking.client import Client

POLICY = "metrics.r2 >= production.metrics.r2"


@task
def load() -> pd.DataFrame:
    return load_diabetes(as_frame=True).frame


@task
def split(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    train, test = train_test_split(frame, test_size=0.25, random_state=0)
    return train, test


@task
def train(frame: pd.DataFrame, alpha: float) -> Ridge:
    return Ridge(alpha=alpha).fit(frame.drop(columns="target"), frame["target"])


@task
def evaluate(model: Ridge, frame: pd.DataFrame) -> dict[str, float]:
    truth, predicted = frame["target"], model.predict(frame.drop(columns="target"))
    return {"r2": float(r2_score(truth, predicted)), "mae": float(mean_absolute_error(truth, predicted))}


@flow(name="diabetes-regression", experiment="diabetes")
def diabetes_pipeline(alpha: float = 1.0) -> tuple[Any, dict[str, float], str]:
    from prefect.runtime import flow_run

    from trackflow.tasks import register_model

    train_df, test_df = split(load())
    model = train(train_df, alpha)
    scores = evaluate(model, test_df)
    version = register_model(model, name="diabetes-ridge", stage="staging", promote_if=POLICY)
    return version, scores, str(flow_run.id)


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every run and model event trackflow publishes, recorded on its way to Prefect."""
    from trackflow.dashboard import events as run_events
    from trackflow.dashboard import publish

    seen: list[dict[str, Any]] = []

    def spying(original: Any) -> Any:
        def spy(event: str, **kwargs: Any) -> Any:
            seen.append({"event": event, **kwargs})
            return original(event, **kwargs)

        return spy

    monkeypatch.setattr(publish, "publish_event", spying(publish.publish_event))
    monkeypatch.setattr(run_events, "publish_event", spying(run_events.publish_event))
    return seen


@pytest.mark.usefixtures("prefect_harness")
def test_promote_if_compares_the_evaluate_tasks_metric_through_the_flow_run(
    tracking_home: Any, events: list[dict[str, Any]]
) -> None:
    v1, scores_1, _ = diabetes_pipeline(alpha=0.5)
    assert (v1.version, v1.stage) == (1, Stage.PRODUCTION)  # nothing to beat yet
    v2, scores_2, flow_run_2 = diabetes_pipeline(alpha=500.0)  # heavy shrinkage: a worse r2
    assert scores_2["r2"] < scores_1["r2"]
    assert (v2.version, v2.stage) == (2, Stage.STAGING)
    v3, scores_3, _ = diabetes_pipeline(alpha=0.1)
    passed_3 = scores_3["r2"] >= scores_1["r2"]
    assert v3.stage is (Stage.PRODUCTION if passed_3 else Stage.STAGING)

    client = Client()
    history = client.registry.history("diabetes-ridge")
    decision_2 = next(t for t in history if (t.version, t.to_stage) == (2, Stage.STAGING)).details["promotion"]
    assert decision_2["passed"] is False
    assert decision_2["candidate_value"] == pytest.approx(scores_2["r2"])
    assert decision_2["reference_value"] == pytest.approx(scores_1["r2"]) and decision_2["reference_version"] == 1
    last_3 = [t for t in history if t.version == 3][-1]
    decision_3 = last_3.details["promotion"]
    assert decision_3["passed"] is passed_3 and decision_3["candidate_value"] == pytest.approx(scores_3["r2"])
    assert decision_3["reference_value"] == pytest.approx(scores_1["r2"])
    assert "has no value" not in last_3.reason

    flow_run = client.get_run_by_prefect_id(flow_run_2)
    produced = client.get_run(v2.run_id or "")  # the flow run, or its train task's run (autolog's package)
    assert flow_run.id in (produced.id, produced.parent_run_id)
    assert flow_run.metrics["r2"] == pytest.approx(scores_2["r2"])
    assert "evaluate.r2" not in flow_run.metrics  # one task logs r2: no qualified copy needed
    assert flow_run.metrics["mae"] == pytest.approx(scores_2["mae"])
    (finished,) = [e for e in events if e["resource_id"] == f"trackflow.run.{flow_run.id}"]
    assert finished["event"] == "trackflow.run.finished"
    assert finished["payload"]["metrics"]["r2"] == pytest.approx(scores_2["r2"])

    registered = [e for e in events if e["event"] == "trackflow.model.registered"]
    assert len(registered) == 3 and registered[1]["payload"]["metrics"]["r2"] == pytest.approx(scores_2["r2"])
    names = {r["prefect.resource.role"]: r.get("prefect.resource.name") for r in registered[1]["related"]}
    assert names["model-version"] == "diabetes-ridge v2" and names["run"] and names["flow-run"]

    card = read_card("model-card-diabetes-ridge")
    assert "# Model card: diabetes-ridge v3" in card
    assert "### Evaluation (flow run " in card and f"| r2 | {scores_3['r2']:.4g} |" in card
    assert f"| mae | {scores_3['mae']:.4g} |" in card and "| evaluate.r2 |" not in card


def test_a_model_a_task_logged_is_registered_from_its_package_and_judged_by_its_flow_run(client: Client) -> None:
    """What autolog's known_ref enables: the version links to the task's package and run."""
    from trackflow.dashboard.model_card import render_model_card
    from trackflow.registry.loading import log_package
    from trackflow.tasks.register import register_and_stage
    from trackflow.tracking.objects import forget_objects, remember_ref

    x = np.arange(40, dtype=float).reshape(20, 2)
    y = x @ np.array([1.5, -2.0]) + 3.0

    def pipeline_run(r2: float) -> tuple[Any, str]:
        flow_run = client.create_run("diabetes", run_name=f"flow-{r2}", kind="flow", tags={"prefect.flow": "p"})
        model = LinearRegression().fit(x, y)
        train_run = client.create_run("diabetes", run_name="train-0", kind="task", parent_run_id=flow_run.id,
                                      tags={"prefect.task": "train"})  # fmt: skip
        log_package(client, model, train_run.id, "model")
        client.log_metric(train_run.id, "training_r2", 1.0)
        client.end_run(train_run.id)
        remember_ref(model, f"model:runs:/{train_run.id}/model")
        evaluate_run = client.create_run("diabetes", run_name="evaluate-0", kind="task", parent_run_id=flow_run.id,
                                         tags={"prefect.task": "evaluate"})  # fmt: skip
        client.log_metrics(evaluate_run.id, {"r2": r2})
        client.end_run(evaluate_run.id)
        version = register_and_stage(model, "linreg", client=client, stage="staging", promote_if=POLICY,
                                     input_example=x[:2])  # fmt: skip
        assert client.list_artifacts(flow_run.id) == []  # no second package was saved
        return version, train_run.id, model

    try:
        v1, train_1, model_1 = pipeline_run(0.6)
        assert v1.run_id == train_1 and v1.source == f"runs:/{train_1}/model" and v1.stage is Stage.PRODUCTION
        v2, train_2, _ = pipeline_run(0.7)
        assert v2.run_id == train_2 and v2.stage is Stage.PRODUCTION
        v3, _, _ = pipeline_run(0.65)
        assert v3.stage is Stage.STAGING
        with tf.start_run(experiment="elsewhere") as elsewhere:  # another top-level run: a package of its own
            again = register_and_stage(model_1, "copy", client=client)
        assert again.run_id == elsewhere.id and again.source == f"runs:/{elsewhere.id}/model"
        explicit = client.create_run("elsewhere")
        assert register_and_stage(model_1, "copy", client=client, run_id=explicit.id).run_id == explicit.id
    finally:
        forget_objects()
    decision = client.registry.history("linreg", version=3)[-1].details["promotion"]
    assert (decision["candidate_value"], decision["reference_value"], decision["passed"]) == (0.65, 0.7, False)
    card = render_model_card(client, "linreg", 3)
    assert "### Evaluation (flow run flow-0.65)" in card and "| r2 | 0.65 |" in card
    assert "### Training (task run train-0)" in card and "| training_r2 | 1 |" in card
    evaluation = card.split("### Evaluation", 1)[1].split("### Training", 1)[0]
    assert "training_r2" not in evaluation and "evaluate.r2" not in evaluation

