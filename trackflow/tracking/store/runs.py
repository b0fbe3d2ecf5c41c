"""Runs: create, update, read (with their params, latest metrics and tags), search."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from itertools import groupby
from typing import Any, cast

from sqlalchemy import Table, delete, or_, select
from sqlalchemy import text as sql_text
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError
from sqlalchemy.orm import Session

from trackflow.exceptions import InvalidInputError
from trackflow.tracking.entities import Run
from trackflow.tracking.search import Expr, OrderBy
from trackflow.tracking.store.convert import metric_value, to_run
from trackflow.tracking.store.keyed_search import search_page
from trackflow.tracking.store.lifecycle import not_deleted
from trackflow.tracking.store.orm import LatestMetricRow, MetricRow, RunRow
from trackflow.tracking.store.sql import SessionOps, chunks, driver_insert, driver_rows, driver_update, marker, quote
from trackflow.tracking.validation import escape_surrogates

__all__ = ["RunOps", "rejected_rows"]

_RUNS = cast(Table, RunRow.__table__)


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


_RUN_COLUMNS = frozenset(_RUNS.c.keys())
_RUN_DEFAULTS: dict[str, Any] = {
    column.name: getattr(column.default, "arg", None)
    for column in _RUNS.c
    if column.default is not None and getattr(column.default, "is_scalar", False)
}
"""Python-side defaults of the runs table (``kind``, ``attempts``), which a driver-level
INSERT does not apply by itself."""


def _insert_runs(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert run rows through the driver (no statement compilation), consecutive rows of the
    same columns with one executemany; rows naming an unknown column go through Core, which
    rejects them."""
    full = [{**_RUN_DEFAULTS, **_storable(row)} for row in rows]
    if not all(_RUN_COLUMNS.issuperset(row) for row in full):
        session.connection().execute(_RUNS.insert(), full)
        return
    for columns, group in groupby(full, key=_columns_of):
        driver_insert(session, "runs", columns, [tuple(row.values()) for row in group])


def _columns_of(row: dict[str, Any]) -> tuple[str, ...]:
    return tuple(row)


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


def _in(marker: str, count: int) -> str:
    return f"= {marker}" if count == 1 else f"IN ({', '.join([marker] * count)})"


@lru_cache(maxsize=128)
def _read_runs_text(marker: str, count: int) -> str:
    """The runs with these ids and their experiment's name (driver-level: reading a run is
    on the path of every ``get_run``, where compiling the Core statement cost more than the query)."""
    columns = ", ".join(f"r.{quote(name)}" for name in _RUNS.c.keys())
    return (
        f"SELECT {columns}, e.{quote('name')} AS experiment_name FROM runs r JOIN experiments e"
        f" ON e.{quote('id')} = r.{quote('experiment_id')} WHERE r.{quote('id')} {_in(marker, count)}"
    )


_VALUE_COLUMNS = {"params": "value", "tags": "value", "latest_metrics": 'value", "is_nan'}


@lru_cache(maxsize=128)
def _read_of_runs_text(marker: str, table: str, count: int) -> str:
    """(run_id, key, value[, is_nan]) of the runs with these ids in ``table``."""
    return f'SELECT "run_id", "key", "{_VALUE_COLUMNS[table]}" FROM {quote(table)} WHERE "run_id" {_in(marker, count)}'


_READ_COLUMNS = (*_RUNS.c.keys(), "experiment_name")


class _RunRecord:
    """A runs row read through the driver (``_READ_COLUMNS`` order), with the attributes
    :func:`~.convert.to_run` reads; SQLite returns booleans as 0/1."""

    def __init__(self, values: Sequence[Any]) -> None:
        self.__dict__.update(zip(_READ_COLUMNS, values, strict=True))
        if self.source_dirty is not None:
            self.source_dirty = bool(self.source_dirty)

    id: str
    experiment_name: str
    source_dirty: bool | None


class RunOps(SessionOps):
    """The run operations of :class:`~trackflow.tracking.store.base.TrackingTransaction`."""

    def create_run(self, values: Mapping[str, Any]) -> None:
        with rejected_rows(f"run {values.get('id')}"):
            _insert_runs(self.session, [values])

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
                _insert_runs(self.session, rows)

    def update_run(self, run_id: str, values: Mapping[str, Any]) -> bool:
        if not values or not _RUN_COLUMNS.issuperset(values):  # nothing to set, or an unknown column: let Core say so
            statement = _RUNS.update().where(_RUNS.c.id == run_id).values(**_storable(values))
            with rejected_rows(f"the update of run {run_id}"):
                return bool(self.session.connection().execute(statement).rowcount)
        with rejected_rows(f"the update of run {run_id}"):
            return bool(driver_update(self.session, "runs", "id", run_id, _storable(values)))

    def read_runs(self, run_ids: Sequence[str]) -> list[Run]:
        if not run_ids:
            return []
        rows: dict[str, _RunRecord] = {}
        mark = marker(self.session)
        params: dict[str, dict[str, str]] = defaultdict(dict)
        metrics: dict[str, dict[str, float]] = defaultdict(dict)
        tags: dict[str, dict[str, str]] = defaultdict(dict)
        for part in chunks(list(dict.fromkeys(run_ids))):
            bound = tuple(part)
            for values in driver_rows(self.session, _read_runs_text(mark, len(part)), bound):
                record = _RunRecord(values)
                rows[record.id] = record
            for run_id, key, text in driver_rows(self.session, _read_of_runs_text(mark, "params", len(part)), bound):
                params[run_id][key] = text
            for run_id, key, number, is_nan in driver_rows(
                self.session, _read_of_runs_text(mark, "latest_metrics", len(part)), bound
            ):
                metrics[run_id][key] = metric_value(number, bool(is_nan))
            for run_id, key, text in driver_rows(self.session, _read_of_runs_text(mark, "tags", len(part)), bound):
                tags[run_id][key] = text
        return [
            to_run(
                rows[run_id],
                experiment_name=rows[run_id].experiment_name,
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
        return search_page(
            self.session, experiment_ids=experiment_ids, filter_expr=filter_expr, order_by=order_by, limit=limit,
            offset=offset, where=[not_deleted()],
        )
