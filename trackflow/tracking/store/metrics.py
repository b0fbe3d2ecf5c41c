"""Metrics: the full history, and the latest value per key for search."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from trackflow.tracking.entities import Metric
from trackflow.tracking.store.convert import to_metric
from trackflow.tracking.store.orm import LatestMetricRow, MetricRow
from trackflow.tracking.store.sql import upsert_statement

__all__ = ["MetricRecord", "log_metrics", "read_metric_history"]

MetricRecord = tuple[str, str, float, int, int]
"""(run_id, key, value, step, timestamp in ms) — validated by the caller."""


def _encode(value: float) -> tuple[float | None, bool]:
    return (None, True) if math.isnan(value) else (value, False)


def log_metrics(session: Session, records: Sequence[MetricRecord]) -> None:
    """Append metric values and move each key's latest value forward.

    "Latest" is the value with the highest step, then the newest timestamp (as MLflow).
    """
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
    _insert_history(session, rows)
    _upsert_latest(session, list(latest.values()))


_HISTORY_COLUMNS = ("run_id", "key", "value", "is_nan", "step", "timestamp")


def _insert_history(session: Session, rows: list[tuple[Any, ...]]) -> None:
    """Append metric values (tuples in ``_HISTORY_COLUMNS`` order) with the driver's executemany.

    This is the hot path of every flush, and SQLAlchemy's per-row parameter processing costs
    more than SQLite's insert; the statement text is fixed and every value is bound.
    """
    connection = session.connection()
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    columns = ", ".join(_HISTORY_COLUMNS)
    statement = f"INSERT INTO metrics ({columns}) VALUES ({', '.join([marker] * len(_HISTORY_COLUMNS))})"
    connection.exec_driver_sql(statement, rows)


def _newer(statement: Any, table: Any) -> Any:
    """The stored latest value is replaced by a higher step, or the same step logged later."""
    return or_(
        statement.excluded.step > table.c.step,
        (statement.excluded.step == table.c.step) & (statement.excluded.timestamp >= table.c.timestamp),
    )


def _upsert_latest(session: Session, records: list[MetricRecord]) -> None:
    statement = upsert_statement(
        session, LatestMetricRow, ["run_id", "key"], ["value", "is_nan", "step", "timestamp"], where=_newer
    )
    rows = []
    for run_id, key, value, step, timestamp in records:
        stored, is_nan = _encode(value)
        rows.append(
            {"run_id": run_id, "key": key, "value": stored, "is_nan": is_nan, "step": step, "timestamp": timestamp}
        )
    session.connection().execute(statement, rows)


def read_metric_history(session: Session, run_id: str, key: str) -> list[Metric]:
    """Every value of one metric of one run, by step then time."""
    statement = (
        select(MetricRow)
        .where(MetricRow.run_id == run_id, MetricRow.key == key)
        .order_by(MetricRow.step, MetricRow.timestamp, MetricRow.id)
    )
    return [to_metric(row) for row in session.scalars(statement)]
