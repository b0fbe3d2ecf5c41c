"""Subflows nest under their caller's run; async tasks and flows; trackflow.log_* inside tasks."""

from __future__ import annotations

import asyncio

import numpy as np

import trackflow as tf
from trackflow import flow, task
from trackflow.tracking.entities import RunStatus


@task
def double(x: int) -> int:
    tf.log_param("doubled", True)
    tf.log_metrics({"input": x, "output": 2 * x})
    tf.set_tags({"stage": "double"})
    return 2 * x


@flow
def child_flow(x: int) -> int:
    tf.log_metric("child_metric", x)
    return double(x)


@flow(name="parent-flow", experiment="nesting")
def parent_flow(x: int = 3) -> int:
    tf.log_param("from_body", "yes")
    return child_flow(x) + child_flow(x + 1)


def test_subflows_nest_under_the_parent_run() -> None:
    assert parent_flow(3) == 14
    client = tf.Client()
    (parent,) = client.search_runs("nesting", "attributes.kind = 'flow' and params.from_body = 'yes'")
    assert parent.status is RunStatus.FINISHED and parent.params == {"from_body": "yes", "x": "3"}
    subflows = client.get_child_runs(parent.id)
    assert [s.kind for s in subflows] == ["flow", "flow"]
    assert sorted(s.params["x"] for s in subflows) == ["3", "4"]
    for sub in subflows:
        assert sub.experiment_name == "nesting" and sub.status is RunStatus.FINISHED  # the parent's experiment
        assert sub.metrics["child_metric"] == float(sub.params["x"])
        (inner,) = client.get_child_runs(sub.id)
        assert inner.kind == "task" and inner.parent_run_id == sub.id
        assert inner.params == {"x": sub.params["x"], "doubled": "True"}
        assert inner.metrics == {"input": float(sub.params["x"]), "output": 2.0 * float(sub.params["x"])}
        assert inner.tags["stage"] == "double"
        assert client.lineage(sub.id, direction="downstream", depth=1).groups[sub.ref] == parent.ref


@task
async def slow_scale(values: np.ndarray, factor: float = 2.0) -> np.ndarray:
    await asyncio.sleep(0.01)
    tf.log_metric("factor", factor)
    return values * factor


@task(log_datasets=False)
async def total(values: np.ndarray) -> dict[str, float]:
    return {"total": float(values.sum())}


@flow(name="async-flow")
async def async_flow(n: int = 4) -> dict[str, float]:
    scaled = await asyncio.gather(slow_scale(np.arange(n, dtype=float)), slow_scale(np.ones(n), factor=3.0))
    return await total(scaled[0] + scaled[1])


def test_async_tasks_and_flows() -> None:
    assert asyncio.run(async_flow(4)) == {"total": 2 * (0 + 1 + 2 + 3) + 3 * 4}
    client = tf.Client()
    (flow_run,) = client.search_runs("async-flow", "attributes.kind = 'flow'")
    assert flow_run.status is RunStatus.FINISHED and flow_run.metrics["total"] == 24.0
    # the tasks' metrics rolled up: "factor" logged by two slow_scale runs stays reachable qualified
    assert set(flow_run.metrics) == {"total", "factor", "slow_scale.factor"}
    assert flow_run.metrics["factor"] == flow_run.metrics["slow_scale.factor"] in (2.0, 3.0)
    children = client.get_child_runs(flow_run.id)
    scales = [c for c in children if c.tags["prefect.task"] == "slow_scale"]
    assert sorted(c.metrics["factor"] for c in scales) == [2.0, 3.0]
    assert all(len(client.get_datasets(c.id, role="output")) == 1 for c in scales)
    (summed,) = [c for c in children if c.tags["prefect.task"] == "total"]
    assert summed.params == {} and client.get_datasets(summed.id) == []  # log_datasets=False
