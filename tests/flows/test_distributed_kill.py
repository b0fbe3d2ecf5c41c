"""A Dask worker killed by PID mid-flow: one run per Prefect task run, none RUNNING, no repeated values.

Dask re-executes the task runs the dead worker was running and recomputes the results it
held, under the same Prefect task-run ids; trackflow resumes their runs instead of making
new ones. Right after the flow returns (and inside it, as the run report and ``promote_if``
read) every task run is ended with its values: workers write them before the task returns.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import psutil

import trackflow as tf
from trackflow import flow
from trackflow.tracking.entities import RunStatus

from .distributed_helpers import record_counts, work

TASKS = 40
KILL_AFTER_FINISHED = 10


class _Killer(threading.Thread):
    """Kills (SIGKILL) one Dask worker process of this test, once enough task runs have ended.

    A worker's pid is read from the ``pid`` metric of a finished task run, and killed only
    if it is a child process of this test (never the Prefect server or anything else).
    """

    def __init__(self, uri: str) -> None:
        super().__init__(daemon=True)
        self.uri = uri
        self.killed: int | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        client = tf.Client(self.uri)
        ours = {p.pid for p in psutil.Process().children(recursive=True)}
        while not self.stop.is_set() and self.killed is None:
            finished = client.search_runs(filter="attributes.kind = 'task' and attributes.status = 'FINISHED'")
            pids = {int(r.metrics["pid"]) for r in finished if "pid" in r.metrics}
            if len(finished) >= KILL_AFTER_FINISHED:
                ours |= {p.pid for p in psutil.Process().children(recursive=True)}
                workers = sorted(pids & ours)
                if workers:
                    os.kill(workers[0], signal.SIGKILL)
                    self.killed = workers[0]
                    return
            time.sleep(0.05)


def test_a_worker_killed_mid_flow_leaves_one_finished_run_per_task_run(store_uri: str) -> None:
    """On SQLite (a file) and PostgreSQL (a schema of its own): ``store_uri`` sets the flow's URI."""
    from prefect_dask import DaskTaskRunner

    killer = _Killer(store_uri)
    runner = DaskTaskRunner(cluster_kwargs={"n_workers": 2, "processes": True, "threads_per_worker": 1})

    @flow(name="killed-worker", task_runner=runner)
    def mapped() -> tuple[str, list[RunStatus], int]:
        from prefect.runtime import flow_run

        futures = work.map(range(TASKS))
        total = sum(f.result() for f in futures)
        # what the run report and promote_if read at flow end: every task run ended
        children = tf.Client().get_child_runs(tf.active_run_id() or "")
        return str(flow_run.id), [c.status for c in children], total

    killer.start()  # waits for the first task runs to end (the flow's closure must stay picklable)
    try:
        flow_run_id, statuses_in_flow, total = mapped()
    finally:
        killer.stop.set()
    assert total == sum(x * x for x in range(TASKS))
    assert killer.killed is not None  # a worker really died mid-flow
    assert statuses_in_flow == [RunStatus.FINISHED] * TASKS
    found = record_counts(store_uri, flow_run_id)
    assert found["runs"] == found["task_run_ids"] == TASKS  # one run per Prefect task run
    assert found["running"] == []
    assert found["repeated_metric_rows"] == []
    assert found["runs_without_all_losses"] == []
    assert found["flow_status"] == ["FINISHED"]
    assert found["max_attempts"] >= 2  # the lost task runs were executed again, into the same runs
