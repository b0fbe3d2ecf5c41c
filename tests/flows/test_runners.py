"""Runs are keyed by Prefect's run ids: thread pools and Dask process workers attribute values right."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import trackflow as tf
from trackflow import flow, task
from trackflow.tracking.entities import RunStatus


@task
def square(x: int) -> dict[str, float]:
    """Logs through the fluent API and returns a metric: both must land in this task's run."""
    tf.log_metric("pid", os.getpid())
    tf.set_tag("x", x)
    return {"square": float(x * x)}


@task
def column(n: int) -> np.ndarray:
    return np.arange(n, dtype="float64")


def _check(flow_name: str, expected: list[int]) -> set[str]:
    client = tf.Client()
    flow_run = client.search_runs(flow_name, "attributes.kind = 'flow'")[0]
    assert flow_run.status is RunStatus.FINISHED
    children = [c for c in client.get_child_runs(flow_run.id) if c.tags["prefect.task"] == "square"]
    assert sorted(int(c.params["x"]) for c in children) == expected
    for child in children:  # each value is in the run of the task run that logged it
        x = int(child.params["x"])
        assert child.tags["x"] == str(x) and child.metrics["square"] == x * x
        assert child.status is RunStatus.FINISHED and child.parent_run_id == flow_run.id
    return {str(int(c.metrics["pid"])) for c in children}


def test_submit_and_map_on_the_thread_pool() -> None:
    @flow(name="threads")
    def threads() -> float:
        futures = [square.submit(i) for i in range(3)]
        mapped = square.map([10, 11, 12])
        arrays = column.map([2, 3])
        return sum(f.result()["square"] for f in [*futures, *mapped]) + sum(a.result().sum() for a in arrays)

    assert threads() == 0 + 1 + 4 + 100 + 121 + 144 + 1 + 3
    pids = _check("threads", [0, 1, 2, 10, 11, 12])
    assert pids == {str(os.getpid())}
    client = tf.Client()
    outputs = [d for c in client.search_runs("threads", "tags.`prefect.task` = 'column'") for d in client.get_datasets(c.id)]
    assert sorted(d.dataset.num_rows for d in outputs) == [2, 3] and {d.name for d in outputs} == {"column.output"}


def test_dask_process_workers(tracking_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("prefect_dask")
    from prefect_dask import DaskTaskRunner

    # worker processes inherit the environment: point them at this test's store
    monkeypatch.setenv("TRACKFLOW_TRACKING_URI", f"sqlite:///{tracking_home / 'trackflow.db'}")
    monkeypatch.setenv("TRACKFLOW_ARTIFACT_ROOT", str(tracking_home / "artifacts"))
    runner = DaskTaskRunner(cluster_kwargs={"n_workers": 2, "processes": True, "threads_per_worker": 1})

    @flow(name="dask", task_runner=runner)
    def on_dask() -> float:
        futures = [square.submit(i) for i in range(2)]
        mapped = square.map([5, 6, 7])
        return sum(f.result()["square"] for f in [*futures, *mapped])

    assert on_dask() == 0 + 1 + 25 + 36 + 49
    pids = _check("dask", [0, 1, 5, 6, 7])
    assert str(os.getpid()) not in pids  # the tasks really ran in worker processes
