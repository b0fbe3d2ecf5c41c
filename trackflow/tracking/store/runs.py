"""Runs: create, update, read (with their params, latest metrics and tags)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from trackflow.tracking.entities import Run
from trackflow.tracking.store.convert import metric_value, to_run
from trackflow.tracking.store.orm import (
    ExperimentRow,
    LatestMetricRow,
    ParamRow,
    RunRow,
    TagRow,
)
from trackflow.tracking.store.sql import chunks

__all__ = ["create_run", "create_runs", "update_run", "read_run", "read_runs", "read_run_by_prefect_id", "read_child_run_ids"]


def create_run(session: Session, values: dict[str, Any]) -> None:
    """Insert a run row from column values (the caller validated them)."""
    create_runs(session, [values])


def create_runs(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert run rows (one statement, many parameter sets)."""
    if rows:
        session.connection().execute(RunRow.__table__.insert(), rows)


def update_run(session: Session, run_id: str, values: dict[str, Any]) -> bool:
    """Update columns of one run; False when it does not exist."""
    table = RunRow.__table__
    result = session.connection().execute(table.update().where(table.c.id == run_id).values(**values))
    return bool(result.rowcount)


def _matching(column: Any, ids: Sequence[str]) -> Any:
    """``column = id`` for one id (cheaper to build and plan), ``column IN (...)`` otherwise."""
    return column == ids[0] if len(ids) == 1 else column.in_(ids)


def read_run(session: Session, run_id: str) -> Run | None:
    """One run with its data, or None."""
    runs = read_runs(session, [run_id])
    return runs[0] if runs else None


def read_runs(session: Session, run_ids: Sequence[str]) -> list[Run]:
    """Runs in the order of ``run_ids`` (missing ids are skipped), with their data."""
    if not run_ids:
        return []
    rows: dict[str, Any] = {}
    names: dict[str, str] = {}
    connection = session.connection()
    runs_table, experiments_table = RunRow.__table__, ExperimentRow.__table__
    params: dict[str, dict[str, str]] = defaultdict(dict)
    metrics: dict[str, dict[str, float]] = defaultdict(dict)
    tags: dict[str, dict[str, str]] = defaultdict(dict)
    for part in chunks(list(dict.fromkeys(run_ids))):
        statement = (
            select(runs_table, experiments_table.c.name.label("experiment_name"))
            .join(experiments_table, experiments_table.c.id == runs_table.c.experiment_id)
            .where(_matching(runs_table.c.id, part))
        )
        for row in connection.execute(statement):
            rows[row.id] = row
            names[row.id] = row.experiment_name
        for run_id, key, value in connection.execute(
            select(ParamRow.run_id, ParamRow.key, ParamRow.value).where(_matching(ParamRow.run_id, part))
        ):
            params[run_id][key] = value
        for run_id, key, value, is_nan in connection.execute(
            select(LatestMetricRow.run_id, LatestMetricRow.key, LatestMetricRow.value, LatestMetricRow.is_nan).where(
                _matching(LatestMetricRow.run_id, part)
            )
        ):
            metrics[run_id][key] = metric_value(value, is_nan)
        for run_id, key, value in connection.execute(
            select(TagRow.run_id, TagRow.key, TagRow.value).where(_matching(TagRow.run_id, part))
        ):
            tags[run_id][key] = value
    return [
        to_run(
            rows[run_id],
            experiment_name=names[run_id],
            params=dict(sorted(params[run_id].items())),
            metrics=dict(sorted(metrics[run_id].items())),
            tags=dict(sorted(tags[run_id].items())),
        )
        for run_id in run_ids
        if run_id in rows
    ]


def read_run_by_prefect_id(session: Session, prefect_id: str) -> Run | None:
    """The run bound to a Prefect flow-run or task-run id (task runs win), or None."""
    statement = (
        select(RunRow.id)
        .where(or_(RunRow.task_run_id == prefect_id, (RunRow.flow_run_id == prefect_id) & (RunRow.kind == "flow")))
        .order_by(RunRow.start_time.desc())
        .limit(1)
    )
    run_id = session.scalars(statement).first()
    return read_run(session, run_id) if run_id else None


def read_child_run_ids(session: Session, parent_run_id: str) -> list[str]:
    """Ids of the runs nested under ``parent_run_id``, oldest first."""
    statement = select(RunRow.id).where(RunRow.parent_run_id == parent_run_id).order_by(RunRow.start_time, RunRow.id)
    return list(session.scalars(statement))
