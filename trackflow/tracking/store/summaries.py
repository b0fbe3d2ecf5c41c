"""Summary reads for run tables (the web ui): experiment overviews, table pages, metric ranges, keys.

Every method answers for a whole page in one or two statements; see
:mod:`trackflow.tracking.summaries` for what they mean.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, func, select

from trackflow.tracking.entities import ms_to_datetime
from trackflow.tracking.search import Expr, OrderBy
from trackflow.tracking.store.convert import to_experiment
from trackflow.tracking.store.keyed_search import search_page
from trackflow.tracking.store.lifecycle import not_deleted
from trackflow.tracking.store.orm import ExperimentRow, LatestMetricRow, MetricRow, ParamRow, RunRow, TagRow
from trackflow.tracking.store.search_sql import build_search_statement
from trackflow.tracking.store.sql import SessionOps, chunks
from trackflow.tracking.summaries import ExperimentSummary, MetricRange, RunKeys

__all__ = ["SummaryOps"]


def _table_conditions(top_level: bool) -> list[Any]:
    """The runs a run table pages through: not deleted; with ``top_level``, without a parent."""
    return [not_deleted(), RunRow.parent_run_id.is_(None)] if top_level else [not_deleted()]


class SummaryOps(SessionOps):
    """The summary reads of :class:`~trackflow.tracking.store.base.TrackingTransaction`."""

    def read_experiment_summaries(self, *, metric: str | None, mode: str) -> list[ExperimentSummary]:
        counts = select(
            RunRow.experiment_id,
            func.count(),
            func.sum(case((RunRow.parent_run_id.is_(None), 1), else_=0)),
            func.max(RunRow.start_time),
        ).where(not_deleted()).group_by(RunRow.experiment_id)
        by_experiment = {row[0]: row[1:] for row in self.session.execute(counts)}
        aggregate = func.max(LatestMetricRow.value) if mode == "max" else func.min(LatestMetricRow.value)
        summaries = []
        for row in self.session.scalars(select(ExperimentRow).order_by(ExperimentRow.name)):
            experiment = to_experiment(row)
            total, flows, last = by_experiment.get(experiment.id, (0, 0, None))
            best = None
            if metric and total:  # one indexed probe per experiment: (key, value) then the run's experiment
                best = self.session.scalar(
                    select(aggregate)
                    .join(RunRow, RunRow.id == LatestMetricRow.run_id)
                    .where(LatestMetricRow.key == metric, RunRow.experiment_id == experiment.id, not_deleted())
                )
            summaries.append(ExperimentSummary(
                id=experiment.id, name=experiment.name, created_at=experiment.created_at, run_count=int(total or 0),
                flow_run_count=int(flows or 0), last_run_time=ms_to_datetime(last), best=best,
            ))
        return summaries

    def _table_statement(
        self, *, experiment_id: str, filter_expr: Expr | None, order_by: Sequence[OrderBy], top_level: bool,
        limit: int, offset: int,
    ) -> Any:
        statement = build_search_statement(
            experiment_ids=[experiment_id], filter_expr=filter_expr, order_by=order_by, limit=limit, offset=offset
        )
        return statement.where(*_table_conditions(top_level))

    def search_table_run_ids(
        self, *, experiment_id: str, filter_expr: Expr | None, order_by: Sequence[OrderBy],
        order_by_duration: bool | None, top_level: bool, limit: int, offset: int,
    ) -> list[str]:
        if order_by_duration is None:
            return search_page(self.session, experiment_ids=[experiment_id], filter_expr=filter_expr,
                               order_by=order_by, limit=limit, offset=offset, where=_table_conditions(top_level))
        statement = self._table_statement(
            experiment_id=experiment_id, filter_expr=filter_expr, order_by=(), top_level=top_level, limit=limit,
            offset=offset,
        )
        duration = RunRow.end_time - RunRow.start_time
        statement = statement.order_by(None).order_by(
            RunRow.end_time.is_(None), duration.asc() if order_by_duration else duration.desc(),
            RunRow.start_time.desc(), RunRow.id.asc(),
        )
        return list(self.session.scalars(statement))

    def count_table_runs(self, *, experiment_id: str, filter_expr: Expr | None, top_level: bool) -> int:
        statement = self._table_statement(
            experiment_id=experiment_id, filter_expr=filter_expr, order_by=(), top_level=top_level, limit=0, offset=0
        ).order_by(None).limit(None).offset(None)
        return int(self.session.scalar(select(func.count()).select_from(statement.subquery())) or 0)

    def read_metric_ranges(self, run_ids: Sequence[str], keys: Sequence[str]) -> dict[str, dict[str, MetricRange]]:
        ranges: dict[str, dict[str, MetricRange]] = defaultdict(dict)
        for part in chunks(list(dict.fromkeys(run_ids))):
            statement = (
                select(MetricRow.run_id, MetricRow.key, func.min(MetricRow.value), func.max(MetricRow.value))
                .where(MetricRow.run_id.in_(part), MetricRow.key.in_(list(keys)))
                .group_by(MetricRow.run_id, MetricRow.key)
            )
            for run_id, key, low, high in self.session.execute(statement):
                ranges[run_id][key] = (low, high)
        return dict(ranges)

    def read_child_counts(self, run_ids: Sequence[str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for part in chunks(list(dict.fromkeys(run_ids))):
            statement = (
                select(RunRow.parent_run_id, func.count())
                .where(RunRow.parent_run_id.in_(part))
                .group_by(RunRow.parent_run_id)
            )
            counts.update({parent: int(n) for parent, n in self.session.execute(statement) if parent})
        return counts

    def read_recent_keys(self, experiment_id: str, *, runs: int) -> RunKeys:
        recent = (
            select(RunRow.id)
            .where(RunRow.experiment_id == experiment_id)
            .order_by(RunRow.start_time.desc())
            .limit(runs)
            .scalar_subquery()
        )
        found = []
        for table in (ParamRow, LatestMetricRow, TagRow):
            statement = select(table.key).where(table.run_id.in_(recent)).distinct().order_by(table.key)
            found.append(list(self.session.scalars(statement)))
        return RunKeys(params=found[0], metrics=found[1], tags=found[2])
