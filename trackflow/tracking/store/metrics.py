"""Metrics: the full history, and the latest value per key for search."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, delete, exists, or_, select
from sqlalchemy.orm import aliased

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

    SQLite cannot store NaN: it is kept as NULL plus an ``is_nan`` flag. A history row equal
    in run, key, step, timestamp and value (or NaN-ness) to a stored one is not inserted again
    (``ON CONFLICT DO NOTHING`` on the unique natural keys): a replayed batch adds nothing.
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
        more than SQLite's insert; the statement text is fixed and every value is bound. A row
        stored already (``uq_metrics_natural_key``) is skipped.
        """
        connection = self.session.connection()
        marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
        columns = ", ".join(_HISTORY_COLUMNS)
        statement = f"INSERT INTO metrics ({columns}) VALUES ({', '.join([marker] * len(_HISTORY_COLUMNS))}) ON CONFLICT DO NOTHING"
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


def _newer(statement: Any, table: Any) -> Any:
    """The stored latest value is replaced by a higher step, or the same step logged later."""
    return or_(
        statement.excluded.step > table.c.step,
        (statement.excluded.step == table.c.step) & (statement.excluded.timestamp >= table.c.timestamp),
    )
