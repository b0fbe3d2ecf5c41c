"""With TRACKFLOW_UI_URL set, the run report, the task-metrics table and the model card link into
``trackflow ui`` (run page, compare with the previous run, model version page); without it, nothing links."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey
from sklearn.linear_model import LogisticRegression

import trackflow as tf
from trackflow import flow, task
from trackflow.dashboard.model_card import render_model_card
from trackflow.dashboard.run_report import report_key, table_key

UI = "http://127.0.0.1:5999/tf"


@task
def train(lr: float) -> dict[str, float]:
    from trackflow.tasks import register_and_stage

    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [0, 0, 1, 1]})
    model = LogisticRegression(C=lr).fit(frame[["x"]], frame["y"])
    register_and_stage(model, "linked-model", input_example=frame[["x"]].head(2), publish_card=False)
    return {"score": float(model.score(frame[["x"]], frame["y"]))}


@flow(name="linked-flow", experiment="links")
def linked_flow(lr: float) -> dict[str, float]:
    return train(lr)


def _published(key: str, flow_run_id: str) -> Any:
    with get_client(sync_client=True) as prefect:
        (artifact,) = prefect.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=[key]), flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
    return artifact.data


def _flow_runs(client: tf.Client) -> list[Any]:
    return sorted(client.search_runs("links", "attributes.kind = 'flow'"), key=lambda r: r.start_time)


def test_published_report_table_and_card_link_to_the_ui(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKFLOW_UI_URL", UI + "/")
    linked_flow(0.5)
    linked_flow(2.0)
    client = tf.Client()
    first, second = _flow_runs(client)
    report = _published(report_key("linked-flow"), second.flow_run_id)
    assert f"[run page]({UI}/runs/{second.id})" in report
    assert f"[compare with the previous run]({UI}/compare?runs={first.id},{second.id})" in report
    first_report = _published(report_key("linked-flow"), first.flow_run_id)
    assert f"[run page]({UI}/runs/{first.id})" in first_report and "compare with the previous run" not in first_report
    table = _published(table_key("linked-flow"), second.flow_run_id)
    rows = table if isinstance(table, list) else json.loads(table)
    (child,) = client.get_child_runs(second.id)
    assert [row["ui"] for row in rows] == [f"{UI}/runs/{child.id}"]
    card = render_model_card(client, "linked-model", 2)
    assert f"| trackflow ui | [linked-model v2]({UI}/models/linked-model/versions/2) |" in card


def test_nothing_links_without_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRACKFLOW_UI_URL", raising=False)
    linked_flow(0.5)
    linked_flow(1.0)
    client = tf.Client()
    _first, second = _flow_runs(client)
    report = _published(report_key("linked-flow"), second.flow_run_id)
    assert "trackflow ui" not in report and "/runs/" not in report.replace("runs:/", "")
    table = _published(table_key("linked-flow"), second.flow_run_id)
    rows = table if isinstance(table, list) else json.loads(table)
    assert rows and all("ui" not in row for row in rows)
    assert "trackflow ui" not in render_model_card(client, "linked-model", 2)
