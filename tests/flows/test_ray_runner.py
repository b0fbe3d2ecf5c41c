"""RayTaskRunner: every task run executed by a Ray worker is ended, with its metrics, when Prefect sees it complete.

The flow reads its task runs as soon as their futures resolve, while the Ray workers are
still alive: a worker must have stored a task run's end and values before the task
returned (with a worker's writes queued instead, 5 of 20 task runs were read RUNNING
without metrics there). After the flow, whose runner shut Ray down, every task run is
one ended run with its whole metric history.

The local Ray instance advertises 127.0.0.1, runs without its dashboard, uses token
authentication with a token in the environment (nothing written to ``~/.ray``) and a short
temp folder, and is shut down by the runner at the end of the flow (here too, if the flow
failed before that).
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import trackflow as tf
from trackflow import flow, task
from trackflow.tracking.entities import RunStatus

from ci_gate import unavailable

TASKS = 20
STEPS = 3
RAY_TOKEN = secrets.token_hex(32)
"""One token for every Ray started by this process: Ray caches the first one it reads."""


@task
def scored(i: int) -> float:
    """Logs a few steps of a metric and a tag from a Ray worker process."""
    for step in range(STEPS):
        tf.log_metric("loss", 1.0 / (i + step + 1), step=step)
    tf.log_metric("pid", os.getpid())
    tf.set_tag("i", i)
    return float(i)


@pytest.fixture
def ray_temp_dir(store_uri: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Ray's temp folder; the environment its workers inherit: this test's store, importable test modules."""
    tests_dir = str(Path(__file__).resolve().parents[1])  # workers import this module as flows.test_ray_runner
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [tests_dir, os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("RAY_ADDRESS", "")  # never join a cluster found in the environment
    monkeypatch.setenv("RAY_AUTH_MODE", "token")  # token auth without writing ~/.ray/auth_token
    monkeypatch.setenv("RAY_AUTH_TOKEN", RAY_TOKEN)
    try:  # after the environment: Ray reads its auth mode once, when it is imported
        import ray  # noqa: F401
        from prefect_ray import RayTaskRunner  # noqa: F401
    except ImportError:
        unavailable("prefect-ray is not installed (the `test` extra installs it)")
    temp_dir = tempfile.mkdtemp(prefix="tfray-")  # short: Ray's socket paths must fit 107 bytes
    try:
        yield temp_dir
    finally:
        import ray

        if ray.is_initialized():  # the runner shuts down the Ray it started; only a failed start leaves it up
            ray.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.mark.parametrize("store_uri", ["postgresql"], indirect=True)  # a cluster's store; ~15-45 s on 2 cores
def test_ray_workers_end_every_task_run_with_its_metrics(ray_temp_dir: str) -> None:
    from prefect_ray import RayTaskRunner

    runner = RayTaskRunner(
        init_kwargs={
            "num_cpus": 2,
            "include_dashboard": False,
            "_node_ip_address": "127.0.0.1",
            "_temp_dir": ray_temp_dir,
            "log_to_driver": False,
        }
    )

    @flow(name="on-ray", task_runner=runner)
    def on_ray() -> tuple[float, dict[str, tuple[str, float | None]]]:
        total = sum(f.result() for f in scored.map(list(range(TASKS))))
        # read as soon as the futures resolve, while the workers are still alive: a task run's
        # end and values must be stored before Prefect sees the task complete
        flow_run_id = tf.active_run_id()
        assert flow_run_id is not None
        seen = {c.tags.get("i", c.id): (c.status.value, c.metrics.get("loss")) for c in tf.Client().get_child_runs(flow_run_id)}
        return total, seen

    total, seen_in_flow = on_ray()
    assert total == sum(range(TASKS))
    assert seen_in_flow == {str(i): ("FINISHED", pytest.approx(1.0 / (i + STEPS))) for i in range(TASKS)}
    # and after the flow returned (its runner shut Ray down): one ended run per task run, every value
    client = tf.Client()
    flow_run = client.search_runs("on-ray", "attributes.kind = 'flow'")[0]
    assert flow_run.status is RunStatus.FINISHED
    children = client.get_child_runs(flow_run.id)
    assert sorted(int(c.tags["i"]) for c in children) == list(range(TASKS))
    assert [c.name for c in children if c.status is not RunStatus.FINISHED] == []
    for child in children:
        history = client.get_metric_history(child.id, "loss")
        assert [m.step for m in history] == list(range(STEPS))
    worker_pids = {int(c.metrics["pid"]) for c in children}
    assert os.getpid() not in worker_pids  # the tasks really ran in Ray worker processes
