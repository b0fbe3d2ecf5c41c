"""Build run entities from database rows of any kind (no SQLAlchemy needed).

The SQLAlchemy store (:mod:`trackflow.tracking.store.convert`) and the DB-API read path
(:mod:`trackflow.tracking.store.read_path`) both turn a ``runs`` row into a
:class:`~trackflow.tracking.entities.Run` here, so a run reads the same whichever path
loaded it. A row is anything with the ``runs`` columns as attributes.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from trackflow.tracking.entities import Run, RunStatus, ms_to_datetime

__all__ = ["RUN_COLUMNS", "metric_value", "to_run"]

RUN_COLUMNS = (
    "id", "experiment_id", "name", "status", "kind", "start_time", "end_time", "parent_run_id", "error", "attempts",
    "flow_run_id", "task_run_id", "prefect_name", "source_commit", "source_dirty", "entrypoint", "user", "host", "pid",
    "python_version", "package_versions",
)  # fmt: skip
"""The columns of the ``runs`` table a :class:`Run` is built from."""


@lru_cache(maxsize=256)
def _versions(text: str) -> dict[str, str]:
    return json.loads(text)  # type: ignore[no-any-return]


def metric_value(value: float | None, is_nan: Any) -> float:
    """Undo the NaN encoding: SQLite cannot store NaN, so it is kept as NULL + flag."""
    return float("nan") if is_nan or value is None else float(value)


def to_run(
    row: Any,
    *,
    experiment_name: str,
    params: dict[str, str],
    metrics: dict[str, float],
    tags: dict[str, str],
) -> Run:
    """The run entity of a ``runs`` row (``source_dirty`` may come as 0/1 from a DB-API driver)."""
    return Run(
        id=row.id,
        experiment_id=row.experiment_id,
        experiment_name=experiment_name,
        name=row.name,
        status=RunStatus(row.status),
        start_time=ms_to_datetime(row.start_time),  # type: ignore[arg-type]
        end_time=ms_to_datetime(row.end_time),
        parent_run_id=row.parent_run_id,
        kind=row.kind,
        error=row.error,
        attempts=row.attempts,
        flow_run_id=row.flow_run_id,
        task_run_id=row.task_run_id,
        prefect_name=row.prefect_name,
        source_commit=row.source_commit,
        source_dirty=None if row.source_dirty is None else bool(row.source_dirty),
        entrypoint=row.entrypoint,
        user=row.user,
        host=row.host,
        pid=row.pid,
        python_version=row.python_version,
        package_versions=dict(_versions(row.package_versions)) if row.package_versions else {},
        params=params,
        metrics=metrics,
        tags=tags,
    )
