"""Metrics: the full history, and the latest value per key for search."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, select

from trackflow.tracking.entities import Metric
from trackflow.tracking.store.base import MetricRecord
from trackflow.tracking.store.convert import to_metric
from trackflow.tracking.store.orm import LatestMetricRow, MetricRow
from trackflow.tracking.store.runs import rejected_rows
from trackflow.tracking.store.sql import SessionOps, upsert_statement

__all__ = ["MetricOps"]

_HISTORY_COLUMNS = ("run_id", "key", "value", "is_nan", "step", "timestamp")


class MetricOps(SessionOps):
    """The metric operations of :class:`~trackflow.tracking.store.base.TrackingTransaction`.

    SQLite cannot store NaN: it is kept as NULL plus an ``is_nan`` flag.
    """

    def log_metrics(self, records: Sequence[MetricRecord]) -> None:
        if not records:
            return
        rows = []
        latest: dict[tuple[str, str], MetricRecord] = {}
        for record in records:
            run_id, key, value, step, timestamp = record
            nan = value != value  # NaN is the only float unequal to itself
            rows.append((run_id, key, None if nan else value, nan, step, timestamp))
            current = latest.get((run_id, key))
            if current is None or (step, timestamp) >= (current[3], current[4]):
                latest[(run_id, key)] = record
        with rejected_rows(_describe(records)):
            self._insert_history(rows)
            self._upsert_latest(list(latest.values()))

    def _insert_history(self, rows: list[tuple[Any, ...]]) -> None:
        """Append metric values (tuples in ``_HISTORY_COLUMNS`` order) with the driver's executemany.

        This is the hot path of every flush, and SQLAlchemy's per-row parameter processing costs
        more than SQLite's insert; the statement text is fixed and every value is bound.
        """
        connection = self.session.connection()
        marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
        columns = ", ".join(_HISTORY_COLUMNS)
        statement = f"INSERT INTO metrics ({columns}) VALUES ({', '.join([marker] * len(_HISTORY_COLUMNS))})"
        connection.exec_driver_sql(statement, rows)

    def _upsert_latest(self, records: list[MetricRecord]) -> None:
        statement = upsert_statement(
            self.session, LatestMetricRow, ["run_id", "key"], ["value", "is_nan", "step", "timestamp"], where=_newer
        )
        rows = []
        for run_id, key, value, step, timestamp in records:
            nan = value != value
            rows.append(
                {"run_id": run_id, "key": key, "value": None if nan else value, "is_nan": nan, "step": step,
                 "timestamp": timestamp}
            )  # fmt: skip
        self.session.connection().execute(statement, rows)

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


def _newer(statement: Any, table: Any) -> Any:
    """The stored latest value is replaced by a higher step, or the same step logged later."""
    return or_(
        statement.excluded.step > table.c.step,
        (statement.excluded.step == table.c.step) & (statement.excluded.timestamp >= table.c.timestamp),
    )
