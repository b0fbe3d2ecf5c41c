"""Rolling task runs' final metrics up into their flow run, and the metrics that judge a model."""

from __future__ import annotations

import math
import time
from typing import Any

from trackflow.tracking.client import Client
from trackflow.tracking.entities import Run, now_ms
from trackflow.tracking.rollup import model_metrics, roll_up_into, rollup_metrics, task_label


def _flow(client: Client, name: str = "pipeline", parent: str | None = None) -> Run:
    return client.create_run("rollup", run_name=f"{name}-run", kind="flow", parent_run_id=parent,
                             tags={"prefect.flow": name})  # fmt: skip


def _task(
    client: Client, parent: Run, label: str | None, metrics: dict[str, float], *, end: int | None = None,
    status: str = "FINISHED", name: str | None = None,
) -> Run:  # fmt: skip
    """A child run with ``metrics``, ended (at ``end`` ms when given) unless status is RUNNING."""
    tags = {"prefect.task": label} if label else {}
    run = client.create_run("rollup", run_name=name or f"{label}-0", kind="task", parent_run_id=parent.id, tags=tags)
    if metrics:
        client.log_metrics(run.id, metrics)
    if status != "RUNNING":
        client.update_run(run.id, status=status, end_time=end if end is not None else now_ms())
    return run


def test_children_metrics_roll_up_bare_and_qualified(client: Client) -> None:
    flow = _flow(client)
    _task(client, flow, "train", {"training_accuracy": 0.99}, end=1_000)
    _task(client, flow, "evaluate", {"accuracy": 0.9, "f1": 0.8}, end=2_000)
    assert rollup_metrics(client, flow.id) == {"training_accuracy": 0.99, "accuracy": 0.9, "f1": 0.8}
    _task(client, flow, "evaluate_baseline", {"accuracy": 0.7}, end=3_000)  # the same key again: both reachable
    assert rollup_metrics(client, flow.id) == {
        "training_accuracy": 0.99, "accuracy": 0.7, "evaluate.accuracy": 0.9, "evaluate_baseline.accuracy": 0.7,
        "f1": 0.8,
    }  # fmt: skip


def test_the_runs_own_metrics_win_over_the_bare_key(client: Client) -> None:
    flow = _flow(client)
    client.log_metric(flow.id, "accuracy", 0.5)
    _task(client, flow, "evaluate", {"accuracy": 0.9})
    rolled = rollup_metrics(client, flow.id)
    assert rolled["accuracy"] == 0.5 and rolled["evaluate.accuracy"] == 0.9


def test_the_child_that_ended_last_wins_then_the_one_that_started_last(client: Client) -> None:
    flow = _flow(client)
    early = _task(client, flow, "score_a", {"auc": 0.7}, end=5_000_000_000_000)
    _task(client, flow, "score_b", {"auc": 0.8}, end=4_000_000_000_000)  # started later, ended earlier
    rolled = rollup_metrics(client, flow.id)
    assert (rolled["auc"], rolled["score_a.auc"], rolled["score_b.auc"]) == (0.7, 0.7, 0.8)
    assert client.get_run(early.id).end_time is not None

    tied = _flow(client, "tied")
    _task(client, tied, "first", {"auc": 0.1}, end=3_000)
    time.sleep(0.01)  # a later start_time
    _task(client, tied, "second", {"auc": 0.2}, end=3_000)
    assert rollup_metrics(client, tied.id)["auc"] == 0.2


def test_mapped_tasks_share_a_label_and_the_last_ended_wins_it(client: Client) -> None:
    flow = _flow(client)
    _task(client, flow, "fold", {"r2": 0.61}, end=3_000, name="fold-0")
    _task(client, flow, "fold", {"r2": 0.65}, end=9_000, name="fold-1")
    _task(client, flow, "fold", {"r2": 0.63}, end=6_000, name="fold-2")
    assert rollup_metrics(client, flow.id) == {"r2": 0.65, "fold.r2": 0.65}


def test_running_children_are_skipped_and_failed_ones_count(client: Client) -> None:
    flow = _flow(client)
    _task(client, flow, "slow", {"loss": 0.1}, status="RUNNING")
    _task(client, flow, "broken", {"rows": 10.0}, status="FAILED")
    assert rollup_metrics(client, flow.id) == {"rows": 10.0}


def test_labels_fall_back_to_the_flow_name_then_the_run_name(client: Client) -> None:
    flow = _flow(client)
    sub = _flow(client, "sub", parent=flow.id)
    client.log_metric(sub.id, "n", 2.5)
    client.end_run(sub.id)
    plain = _task(client, flow, None, {"n": 3.0}, name="manual-step")
    _task(client, flow, "load/csv", {"n": 1.0}, name="load-csv-0")  # one key, three children: all qualified
    assert (task_label(client.get_run(sub.id)), task_label(plain)) == ("sub", "manual-step")
    rolled = rollup_metrics(client, flow.id)
    assert rolled["sub.n"] == 2.5 and rolled["manual-step.n"] == 3.0 and rolled["load_csv.n"] == 1.0


def test_latest_values_and_an_explicit_children_list(client: Client) -> None:
    flow = _flow(client)
    evaluate = _task(client, flow, "evaluate", {})
    client.log_metric(evaluate.id, "loss", 0.9, step=0)
    client.log_metric(evaluate.id, "loss", 0.3, step=1)
    ignored = _task(client, flow, "other", {"x": 1.0})
    children = [client.get_run(evaluate.id)]
    assert rollup_metrics(client, flow.id, children=children) == {"loss": 0.3}
    assert "x" in rollup_metrics(client, flow.id) and ignored.id


def test_roll_up_into_writes_only_missing_keys_once(client: Client) -> None:
    flow = _flow(client)
    client.log_metric(flow.id, "accuracy", 0.5)
    _task(client, flow, "evaluate", {"accuracy": 0.9, "f1": 0.8})
    children = client.get_child_runs(flow.id)
    written = roll_up_into(client, flow.id, children=children)
    assert written == {"evaluate.accuracy": 0.9, "f1": 0.8}
    assert roll_up_into(client, flow.id, children=children) == {}
    stored = client.get_run(flow.id).metrics
    assert stored == {"accuracy": 0.5, "evaluate.accuracy": 0.9, "f1": 0.8}
    assert [m.value for m in client.get_metric_history(flow.id, "f1")] == [0.8]
    assert [m.step for m in client.get_metric_history(flow.id, "evaluate.accuracy")] == [0]
    assert [m.value for m in client.get_metric_history(flow.id, "accuracy")] == [0.5]
    assert rollup_metrics(client, flow.id) == stored


def test_roll_up_into_with_no_children_writes_nothing(client: Client) -> None:
    flow = _flow(client)
    client.log_metric(flow.id, "accuracy", 0.5)
    assert roll_up_into(client, flow.id, children=[]) == {}
    assert client.get_run(flow.id).metrics == {"accuracy": 0.5}


def test_nan_is_kept_and_round_trips(client: Client) -> None:
    flow = _flow(client)
    _task(client, flow, "train", {"auc": 0.7}, end=1_000)
    _task(client, flow, "evaluate", {"auc": float("nan")}, end=2_000)
    assert math.isnan(rollup_metrics(client, flow.id)["auc"])
    roll_up_into(client, flow.id)
    stored = client.get_run(flow.id).metrics
    assert math.isnan(stored["auc"]) and math.isnan(stored["evaluate.auc"]) and stored["train.auc"] == 0.7


def test_model_metrics_of_a_task_run_are_its_own_then_its_flow_runs(client: Client) -> None:
    flow = _flow(client)
    train = _task(client, flow, "train", {"training_accuracy": 0.99, "accuracy": 0.97}, end=1_000)
    _task(client, flow, "evaluate", {"accuracy": 0.9}, end=2_000)
    judged = model_metrics(client, train.id)
    assert judged["training_accuracy"] == 0.99 and judged["accuracy"] == 0.97  # own wins
    assert judged["evaluate.accuracy"] == 0.9
    assert model_metrics(client, flow.id)["accuracy"] == 0.9  # a flow-body model: the flow run's rollup


def test_model_metrics_follow_parents_up_to_the_top_level_run(client: Client) -> None:
    outer = _flow(client, "outer")
    _task(client, outer, "evaluate", {"accuracy": 0.8, "latency": 3.0}, end=1_000)
    inner = _flow(client, "inner", parent=outer.id)
    _task(client, inner, "evaluate", {"accuracy": 0.85}, end=2_000)
    train = _task(client, inner, "train", {"training_r2": 0.5}, end=1_500)
    judged: dict[str, Any] = model_metrics(client, train.id)
    assert judged["training_r2"] == 0.5 and judged["latency"] == 3.0
    assert judged["accuracy"] == 0.85  # the nearer flow's evaluation wins over the outer one's
    assert model_metrics(client, outer.id)["accuracy"] == 0.8
