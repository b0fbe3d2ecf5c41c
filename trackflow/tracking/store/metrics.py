"""Metrics: the full history, and the latest value per key for search."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from itertools import chain
from typing import cast

from sqlalchemy import Table, delete, exists, or_, select
from sqlalchemy.orm import aliased

from trackflow.tracking.entities import Metric
from trackflow.tracking.store.base import MetricRecord
from trackflow.tracking.store.convert import to_metric
from trackflow.tracking.store.orm import LatestMetricRow, MetricRow
from trackflow.tracking.store.runs import rejected_rows
from trackflow.tracking.store.sql import SessionOps, driver_execute, driver_insert

__all__ = ["MetricOps"]

_HISTORY_COLUMNS = ("run_id", "key", "value", "is_nan", "step", "timestamp")
_ROWS_PER_INSERT = 100
"""Rows per multi-row INSERT (at most 600 bound values: below SQLite's oldest limit of 999)."""
_NEWER_UPSERT = (
    ' ON CONFLICT ("run_id", "key") DO UPDATE SET "value" = excluded."value", "is_nan" = excluded."is_nan",'
    ' "step" = excluded."step", "timestamp" = excluded."timestamp"'
    ' WHERE excluded."step" > "latest_metrics"."step"'
    ' OR (excluded."step" = "latest_metrics"."step" AND excluded."timestamp" >= "latest_metrics"."timestamp")'
)
"""The stored latest value is replaced by a higher step, or the same step logged later."""


@lru_cache(maxsize=4)
def _sqlite_history_text(rows: int) -> str:
    """INSERT of ``rows`` metric records (run_id, key, value, step, timestamp) as they are:
    SQLite binds a NaN as NULL, and ``is_nan`` is whether the value is NULL."""
    values = ", ".join(
        f"(?{5 * r + 1}, ?{5 * r + 2}, ?{5 * r + 3}, ?{5 * r + 3} IS NULL, ?{5 * r + 4}, ?{5 * r + 5})" for r in range(rows)
    )
    columns = ", ".join(f'"{name}"' for name in _HISTORY_COLUMNS)
    return f'INSERT INTO "metrics" ({columns}) VALUES {values} ON CONFLICT DO NOTHING'


class MetricOps(SessionOps):
    """The metric operations of :class:`~trackflow.tracking.store.base.TrackingTransaction`.

    SQLite cannot store NaN: it is kept as NULL plus an ``is_nan`` flag. A history row equal
    in run, key, step, timestamp and value (or NaN-ness) to a stored one is not inserted again
    (``ON CONFLICT DO NOTHING`` on the unique natural keys): a replayed batch adds nothing.
    """

    def log_metrics(self, records: Sequence[MetricRecord]) -> None:
        if not records:
            return
        latest: dict[tuple[str, str], MetricRecord] = {}
        for record in records:
            run_id, key, _value, step, timestamp = record
            current = latest.get((run_id, key))
            if current is None or (step, timestamp) >= (current[3], current[4]):
                latest[(run_id, key)] = record
        with rejected_rows(_describe(records)):
            self._insert_history(records)
            self._upsert_latest(list(latest.values()))

    def _insert_history(self, records: Sequence[MetricRecord]) -> None:
        """Append metric values through the driver: the hot path of every flush.

        The statement text is fixed (multi-row VALUES, built once per shape) and every value
        is bound. On SQLite the records are bound as they are, with numbered parameters: a
        NaN binds as NULL and ``is_nan`` is computed by SQLite, so no row is built in Python
        (a flush of many values allocates next to nothing, which also spares the garbage
        collector). A row stored already (``uq_metrics_natural_key``) is skipped.
        """
        if self.session.connection().dialect.name == "sqlite":
            full = len(records) - len(records) % _ROWS_PER_INSERT
            text = _sqlite_history_text(_ROWS_PER_INSERT)
            for first in range(0, full, _ROWS_PER_INSERT):
                part = tuple(chain.from_iterable(records[first : first + _ROWS_PER_INSERT]))
                driver_execute(self.session, text, part, many=False)
            if full < len(records):
                driver_execute(self.session, _sqlite_history_text(1), records[full:], many=True)
            return
        rows = []
        for run_id, key, value, step, timestamp in records:
            nan = value != value  # NaN is the only float unequal to itself
            rows.append((run_id, key, None if nan else value, nan, step, timestamp))
        driver_insert(
            self.session, "metrics", _HISTORY_COLUMNS, rows, suffix=" ON CONFLICT DO NOTHING", per_statement=_ROWS_PER_INSERT
        )

    def _upsert_latest(self, records: list[MetricRecord]) -> None:
        """Keep the latest value per (run, key): a higher step, or the same step logged later."""
        rows = []
        for run_id, key, value, step, timestamp in records:
            nan = value != value
            rows.append((run_id, key, None if nan else value, nan, step, timestamp))
        driver_insert(self.session, "latest_metrics", _HISTORY_COLUMNS, rows, suffix=_NEWER_UPSERT)

    def delete_metrics_before(self, run_id: str, before: int) -> None:
        connection = self.session.connection()
        connection.execute(delete(MetricRow).where(MetricRow.run_id == run_id, MetricRow.timestamp < before))
        connection.execute(delete(LatestMetricRow).where(LatestMetricRow.run_id == run_id))
        newer = aliased(MetricRow)
        latest = select(
            MetricRow.run_id, MetricRow.key, MetricRow.value,
            MetricRow.is_nan, MetricRow.step, MetricRow.timestamp,
        ).where(
            MetricRow.run_id == run_id,
            ~exists().where(
                newer.run_id == MetricRow.run_id, newer.key == MetricRow.key,
                or_(newer.step > MetricRow.step, (newer.step == MetricRow.step) & or_(
                    newer.timestamp > MetricRow.timestamp,
                    (newer.timestamp == MetricRow.timestamp) & (newer.id > MetricRow.id),
                )),
            ),
        )  # fmt: skip
        columns = ["run_id", "key", "value", "is_nan", "step", "timestamp"]
        connection.execute(cast(Table, LatestMetricRow.__table__).insert().from_select(columns, latest))

    def read_metric_history(self, run_id: str, key: str) -> list[Metric]:
        statement = (
            select(MetricRow)
            .where(MetricRow.run_id == run_id, MetricRow.key == key)
            .order_by(MetricRow.step, MetricRow.timestamp, MetricRow.id)
        )
        return [to_metric(row) for row in self.session.scalars(statement)]


def _describe(records: Sequence[MetricRecord]) -> str:
    if len(records) == 1:
        return f"metric {records[0][1]!r} of run {records[0][0]}"
    return f"{len(records)} metric values"
