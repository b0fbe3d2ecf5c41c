"""``informed_by``: on the flow decorator, through a flow run's tags (a deployment's spec), in specs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from prefect import tags as prefect_tags

import trackflow as tf
from trackflow.deployments.spec import parse_spec
from trackflow.exceptions import InvalidInputError
from trackflow.tracked.options import INFORMED_BY_TAG, TrackingOptions


@pytest.fixture(autouse=True)
def _prefect(prefect_harness: None) -> None:
    """The session-wide Prefect API."""


def _exploration() -> tuple[str, str]:
    with tf.explore("churn-exploration", "eda") as run:
        tf.log_metric("auc", 0.81)
        decision = tf.note("Gradient boosting beats the baseline", kind="decision", evidence=["metrics.auc"])
    return run.id, decision.ref


def test_flow_informed_by_records_informs_edges() -> None:
    run_id, decision = _exploration()

    @tf.task
    def train() -> int:
        return 1

    @tf.flow(informed_by=[run_id])
    def pipeline() -> str:
        train()
        return str(tf.active_run_id())

    flow_run = pipeline()
    informed = pipeline.with_options(informed_by=[decision])
    other_run = informed()
    client = tf.Client()
    assert client.informed_by(flow_run) == [f"run:{run_id}"]
    task_run = client.get_child_runs(flow_run)[0]
    assert client.informed_by(task_run.id) == [f"run:{run_id}"]
    assert client.informed_by(other_run) == [decision]
    graph = client.lineage(f"run:{other_run}", direction="upstream", scope="all")
    assert {decision, f"run:{run_id}"} <= set(graph.nodes)  # the decision, and through its evidence its run
    assert graph.nodes[decision].kind == "note"


def test_flow_run_tags_carry_informed_by() -> None:
    run_id, decision = _exploration()

    @tf.flow
    def pipeline() -> str:
        return str(tf.active_run_id())

    with prefect_tags(f"{INFORMED_BY_TAG}{decision}"):
        flow_run = pipeline()
    assert tf.Client().informed_by(flow_run) == [decision]


def test_informed_by_is_checked_when_decorating() -> None:
    with pytest.raises(InvalidInputError, match="informed_by"):
        TrackingOptions(informed_by=["dataset:abc"])
    assert TrackingOptions(informed_by="a" * 32).informed_by == ("run:" + "a" * 32,)


def test_spec_informed_by_becomes_tags(tmp_path: Path) -> None:
    spec = parse_spec(f"name: churn\ninformed_by: [{'b' * 32}, note:7]\ntags: [team-a]\n", directory=tmp_path)
    assert spec.informed_by == ("run:" + "b" * 32, "note:7")
    assert spec.tags == ("team-a", f"{INFORMED_BY_TAG}run:{'b' * 32}", f"{INFORMED_BY_TAG}note:7")
    with pytest.raises(InvalidInputError, match="line 2"):
        parse_spec("name: churn\ninformed_by: [dataset:abc]\n", directory=tmp_path)


def test_exploration_and_pipeline_share_the_dataset_node() -> None:
    frame = pd.DataFrame({"age": [25, 38, 52], "churned": [0, 1, 1]})
    with tf.explore("churn-exploration") as run:
        explored = tf.log_dataset(frame, "customers")

    @tf.flow(informed_by=[run.id])
    def pipeline(data: pd.DataFrame) -> str:
        return str(tf.active_run_id())

    flow_run = pipeline(frame.copy())
    used = tf.Client().get_datasets(flow_run, role="input")
    assert [d.dataset.ref for d in used] == [explored.ref]  # one node, by content fingerprint
    graph = tf.Client().lineage(explored.ref, direction="downstream", depth=1, scope="all")
    assert {f"run:{run.id}", f"run:{flow_run}"} <= set(graph.nodes)
