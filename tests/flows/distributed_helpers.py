"""A tracked task and the record checks shared by the distributed (Dask) tests.

The task is importable by worker processes (``flows.distributed_helpers``: ``tests/`` is on
their ``PYTHONPATH``), so cloudpickle sends it by reference.
"""

from __future__ import annotations

import os
import time

from db_helpers import database
from sqlalchemy import text

import trackflow as tf
from trackflow import task

__all__ = ["METRIC_STEPS", "STEP_SECONDS", "record_counts", "work"]

METRIC_STEPS = 3
STEP_SECONDS = 0.05


@task
def work(x: int) -> int:
    """Logs METRIC_STEPS values of ``loss`` and the worker's pid, sleeping a little between them."""
    tf.log_metric("pid", os.getpid())
    for step in range(METRIC_STEPS):
        tf.log_metric("loss", 1.0 / (x + step + 1), step=step)
        time.sleep(STEP_SECONDS)
    return x * x


def record_counts(uri: str, flow_run_id: str) -> dict[str, object]:
    """What the store at ``uri`` holds for the task runs of one Prefect flow run, read on a
    connection of its own (nothing this process queued or cached)."""
    with database(tf.Client(uri)) as conn:
        runs = conn.execute(
            text("SELECT id, task_run_id, status, attempts FROM runs WHERE kind = 'task' AND flow_run_id = :f"),
            {"f": flow_run_id},
        ).all()
        repeated = conn.execute(
            text(
                "SELECT m.run_id, m.key, m.step, COUNT(*) FROM metrics m JOIN runs r ON r.id = m.run_id "
                "WHERE r.flow_run_id = :f GROUP BY m.run_id, m.key, m.step HAVING COUNT(*) > 1"
            ),
            {"f": flow_run_id},
        ).all()
        losses = dict(
            conn.execute(  # type: ignore[arg-type]
                text(
                    "SELECT r.id, COUNT(*) FROM runs r JOIN metrics m ON m.run_id = r.id AND m.key = 'loss' "
                    "WHERE r.flow_run_id = :f AND r.kind = 'task' GROUP BY r.id"
                ),
                {"f": flow_run_id},
            ).all()
        )
        flow_status = conn.execute(
            text("SELECT status FROM runs WHERE kind = 'flow' AND flow_run_id = :f"), {"f": flow_run_id}
        ).scalars().all()
    return {
        "runs": len(runs),
        "task_run_ids": len({r.task_run_id for r in runs}),
        "running": sorted(r.id for r in runs if r.status != "FINISHED"),
        "max_attempts": max((r.attempts for r in runs), default=0),
        "repeated_metric_rows": repeated,
        "runs_without_all_losses": sorted(r.id for r in runs if losses.get(r.id) != METRIC_STEPS),
        "flow_status": flow_status,
    }
