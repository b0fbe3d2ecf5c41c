"""Metric histories of several runs in one statement per chunk (see :mod:`trackflow.tracking.histories`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from trackflow.tracking.histories import Histories
from trackflow.tracking.store.convert import metric_value
from trackflow.tracking.store.orm import MetricRow
from trackflow.tracking.store.sql import SessionOps, chunks

__all__ = ["HistoryOps"]


class HistoryOps(SessionOps):
    """The history reads of :class:`~trackflow.tracking.store.base.TrackingTransaction`."""

    def read_metric_histories(self, run_ids: Sequence[str], keys: Sequence[str] | None) -> Histories:
        found: Histories = {}
        for part in chunks(list(run_ids), 500):
            statement = select(MetricRow.run_id, MetricRow.key, MetricRow.step, MetricRow.value, MetricRow.is_nan,
                               MetricRow.timestamp).where(MetricRow.run_id.in_(part))  # fmt: skip
            if keys is not None:
                statement = statement.where(MetricRow.key.in_(list(keys)))
            statement = statement.order_by(MetricRow.run_id, MetricRow.key, MetricRow.step, MetricRow.timestamp,
                                           MetricRow.id)  # fmt: skip
            for run_id, key, step, value, is_nan, timestamp in self.session.execute(statement):
                found.setdefault(run_id, {}).setdefault(key, []).append((step, metric_value(value, is_nan), timestamp))
        return found
