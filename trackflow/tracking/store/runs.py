"""Runs: create, update, read (with their params, latest metrics and tags), search."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Table, delete, or_, select
from sqlalchemy import text as sql_text
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

from trackflow.exceptions import InvalidInputError
from trackflow.tracking.entities import Run
from trackflow.tracking.search import Expr, OrderBy
from trackflow.tracking.store.convert import metric_value, to_run
from trackflow.tracking.store.lifecycle import not_deleted
from trackflow.tracking.store.orm import ExperimentRow, LatestMetricRow, MetricRow, ParamRow, RunRow, TagRow
from trackflow.tracking.store.search_sql import build_search_statement
from trackflow.tracking.store.sql import SessionOps, chunks
from trackflow.tracking.validation import escape_surrogates

__all__ = ["RunOps", "rejected_rows"]

_RUNS = cast(Table, RunRow.__table__)
_EXPERIMENTS = cast(Table, ExperimentRow.__table__)


def _matching(column: Any, ids: Sequence[str]) -> Any:
    """``column = id`` for one id (cheaper to build and plan), ``column IN (...)`` otherwise."""
    return column == ids[0] if len(ids) == 1 else column.in_(ids)


@contextmanager
def rejected_rows(what: str) -> Iterator[None]:
    """Report rows the database (or its driver) refuses as :class:`InvalidInputError`.

    A value out of the column's range, text that is not UTF-8, a missing run (foreign key)
    ...: the rows are wrong, not the database, so writing them again cannot help. The
    write buffer then splits its batch and drops only the offending rows. Connection and
    lock errors (``OperationalError``) pass through: they are worth retrying.
    """
    try:
        yield
    except (DataError, IntegrityError) as exc:
        raise InvalidInputError(f"The database rejected {what}: {_first_line(exc.orig)}") from exc
    except DBAPIError:
        raise
    except StatementError as exc:  # a value SQLAlchemy could not bind
        raise InvalidInputError(f"The database rejected {what}: {_first_line(exc.orig)}") from exc
    except (UnicodeError, OverflowError, TypeError, ValueError) as exc:  # raised by the driver
        raise InvalidInputError(f"The database rejected {what}: {type(exc).__name__}: {exc}") from exc


def _first_line(exc: BaseException | None) -> str:
    text = str(exc) if exc is not None else ""
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def _storable(values: Mapping[str, Any]) -> dict[str, Any]:
    """A run row with lone surrogates in its text (an entry point, an error message naming a
    file that is not UTF-8) backslash-escaped, as param values are."""
    return {k: escape_surrogates(v) if isinstance(v, str) else v for k, v in values.items()}


_PREFECT_KEYS = {"task_run_id": "task_run_id IS NOT NULL", "flow_run_id": "kind = 'flow'"}
"""The Prefect key column of a run -> the condition of its partial unique index."""


@lru_cache(maxsize=8)
def _claim_statement(dialect: str, column: str) -> Any:
    """INSERT a run unless its Prefect key exists, RETURNING its id when it was inserted."""
    statement: Any
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        statement = postgresql_insert(_RUNS)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(_RUNS)
    condition = sql_text(_PREFECT_KEYS[column])
    return statement.on_conflict_do_nothing(index_elements=[column], index_where=condition).returning(_RUNS.c.id)


class RunOps(SessionOps):
    """The run operations of :class:`~trackflow.tracking.store.base.TrackingTransaction`."""

    def create_run(self, values: Mapping[str, Any]) -> None:
        with rejected_rows(f"run {values.get('id')}"):
            self.session.connection().execute(_RUNS.insert(), [_storable(values)])

    def create_prefect_run(self, values: Mapping[str, Any]) -> str:
        """Insert unless the Prefect run has a run (ON CONFLICT on its partial unique index,
        which waits for a concurrent insert to commit); RETURNING tells which happened, and
        only a conflict reads the run that holds the key."""
        if values.get("task_run_id") is not None:
            column, key = "task_run_id", values["task_run_id"]
        elif values.get("kind") == "flow" and values.get("flow_run_id") is not None:
            column, key = "flow_run_id", values["flow_run_id"]
        else:
            raise InvalidInputError(f"Run {values.get('id')} has no Prefect task-run or flow-run id.")
        connection = self.session.connection()
        with rejected_rows(f"run {values.get('id')}"):
            inserted = connection.execute(_claim_statement(connection.dialect.name, column), _storable(values)).scalar()
        if inserted is not None:
            return str(inserted)
        where = _RUNS.c.task_run_id == key if column == "task_run_id" else (_RUNS.c.flow_run_id == key) & (_RUNS.c.kind == "flow")
        return str(connection.execute(select(_RUNS.c.id).where(where)).scalar_one())

    def resume_run(self, run_id: str, values: Mapping[str, Any], *, clear_metrics: bool) -> None:
        connection = self.session.connection()
        statement = _RUNS.update().where(_RUNS.c.id == run_id).values(attempts=_RUNS.c.attempts + 1, **_storable(values))
        with rejected_rows(f"the update of run {run_id}"):
            connection.execute(statement)
        if clear_metrics:
            connection.execute(delete(MetricRow).where(MetricRow.run_id == run_id))
            connection.execute(delete(LatestMetricRow).where(LatestMetricRow.run_id == run_id))

    def create_runs(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            with rejected_rows(f"run(s) {', '.join(str(r.get('id')) for r in rows[:3])}"):
                self.session.connection().execute(_RUNS.insert(), [_storable(r) for r in rows])

    def update_run(self, run_id: str, values: Mapping[str, Any]) -> bool:
        statement = _RUNS.update().where(_RUNS.c.id == run_id).values(**_storable(values))
        with rejected_rows(f"the update of run {run_id}"):
            return bool(self.session.connection().execute(statement).rowcount)

    def read_runs(self, run_ids: Sequence[str]) -> list[Run]:
        if not run_ids:
            return []
        rows: dict[str, Any] = {}
        names: dict[str, str] = {}
        connection = self.session.connection()
        params: dict[str, dict[str, str]] = defaultdict(dict)
        metrics: dict[str, dict[str, float]] = defaultdict(dict)
        tags: dict[str, dict[str, str]] = defaultdict(dict)
        for part in chunks(list(dict.fromkeys(run_ids))):
            statement = (
                select(_RUNS, _EXPERIMENTS.c.name.label("experiment_name"))
                .join(_EXPERIMENTS, _EXPERIMENTS.c.id == _RUNS.c.experiment_id)
                .where(_matching(_RUNS.c.id, part))
            )
            for row in connection.execute(statement):
                rows[row.id] = row
                names[row.id] = row.experiment_name
            for run_id, key, text in connection.execute(
                select(ParamRow.run_id, ParamRow.key, ParamRow.value).where(_matching(ParamRow.run_id, part))
            ):
                params[run_id][key] = text
            for run_id, key, number, is_nan in connection.execute(
                select(LatestMetricRow.run_id, LatestMetricRow.key, LatestMetricRow.value, LatestMetricRow.is_nan).where(
                    _matching(LatestMetricRow.run_id, part)
                )
            ):
                metrics[run_id][key] = metric_value(number, is_nan)
            for run_id, key, text in connection.execute(
                select(TagRow.run_id, TagRow.key, TagRow.value).where(_matching(TagRow.run_id, part))
            ):
                tags[run_id][key] = text
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

    def read_run_by_prefect_id(self, prefect_id: str) -> Run | None:
        statement = (
            select(RunRow.id)
            .where(or_(RunRow.task_run_id == prefect_id, (RunRow.flow_run_id == prefect_id) & (RunRow.kind == "flow")))
            .order_by(RunRow.start_time.desc())
            .limit(1)
        )
        run_id = self.session.scalars(statement).first()
        found = self.read_runs([run_id]) if run_id else []
        return found[0] if found else None

    def read_child_run_ids(self, parent_run_id: str) -> list[str]:
        statement = select(RunRow.id).where(RunRow.parent_run_id == parent_run_id).order_by(RunRow.start_time, RunRow.id)
        return list(self.session.scalars(statement))

    def search_run_ids(
        self,
        *,
        experiment_ids: Sequence[str] | None,
        filter_expr: Expr | None,
        order_by: Sequence[OrderBy],
        limit: int,
        offset: int,
    ) -> list[str]:
        statement = build_search_statement(
            experiment_ids=experiment_ids, filter_expr=filter_expr, order_by=order_by, limit=limit, offset=offset
        )
        return list(self.session.scalars(statement.where(not_deleted())))
