"""Summaries for run tables and overviews (the web ui): counts, best values, metric ranges, keys.

Pure Python: the SQL lives in :mod:`trackflow.tracking.store.summaries`; the reader
functions here open a read transaction of a :class:`~trackflow.tracking.client.Client`'s
store. Each answers a whole page in a few queries (never one query per run).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from trackflow.exceptions import InvalidInputError, NotFoundError
from trackflow.tracking.entities import Experiment, Run
from trackflow.tracking.search import Expr, OrderBy, check_search_text
from trackflow.tracking.validation import validate_run_id

if TYPE_CHECKING:  # typing only: the Client imports nothing from here
    from trackflow.tracking.client import Client

__all__ = [
    "ExperimentSummary", "RunKeys", "RunTable", "MetricRange",
    "experiment_summaries", "run_table", "count_table_runs", "metric_ranges", "child_counts", "recent_keys",
]  # fmt: skip

Mode = Literal["max", "min"]
MetricRange = tuple[float | None, float | None]
"""(min, max) of a metric's whole history (None when every value is NaN)."""


@dataclass(frozen=True)
class ExperimentSummary:
    """One experiment with its run counts, latest start and the best value of a chosen metric."""

    id: str
    name: str
    created_at: datetime
    run_count: int
    flow_run_count: int
    last_run_time: datetime | None
    best: float | None = None


@dataclass(frozen=True)
class RunKeys:
    """The param, metric and tag keys seen in an experiment's most recent runs, sorted."""

    params: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RunTable:
    """One page of a run table: the runs, whether more follow, metric ranges, nested-run counts, keys."""

    experiment: Experiment
    runs: list[Run]
    has_more: bool
    ranges: dict[str, dict[str, MetricRange]]
    children: dict[str, int]
    keys: RunKeys


def _mode(mode: str) -> Mode:
    if mode not in ("max", "min"):
        raise InvalidInputError(f"mode must be 'max' or 'min', not {mode!r}.")
    return "max" if mode == "max" else "min"


def experiment_summaries(client: Client, *, metric: str | None = None, mode: str = "max") -> list[ExperimentSummary]:
    """Every experiment (by name) with its counts, last run time and best latest ``metric`` (``mode`` max/min)."""
    chosen = check_search_text(metric, "metric key") if metric else None
    client.flush()
    with client._store.transaction(write=False) as tx:
        return tx.read_experiment_summaries(metric=chosen, mode=_mode(mode))


def run_table(
    client: Client,
    experiment: str,
    *,
    filter_expr: Expr | None,
    order_by: Sequence[OrderBy],
    order_by_duration: bool | None = None,
    top_level: bool = True,
    limit: int,
    offset: int,
    range_keys: Sequence[str] = (),
    key_runs: int = 200,
) -> RunTable:
    """One page of the run table of ``experiment`` (a name), read in one transaction.

    The runs are ordered and filtered as :meth:`Client.search_runs` does; ``top_level`` keeps
    runs without a parent (flow runs and runs started by hand); ``order_by_duration`` (True
    ascending, False descending) sorts by ``end_time - start_time`` instead (running runs
    last). Also read: (min, max) of the ``range_keys`` metrics of those runs, how many runs
    each has nested under it, and the keys of the experiment's ``key_runs`` latest runs.
    NotFoundError for an unknown experiment.
    """
    name = check_search_text(experiment, "experiment name")
    client.flush()
    with client._store.transaction(write=False) as tx:
        found = tx.read_experiment_by_name(name)
        if found is None:
            known = [e.name for e in tx.read_experiments()]
            raise NotFoundError(f"No experiment named {name!r}. Known experiments: {', '.join(known) or 'none'}.")
        ids = tx.search_table_run_ids(
            experiment_id=found.id, filter_expr=filter_expr, order_by=order_by,
            order_by_duration=order_by_duration, top_level=top_level, limit=limit + 1, offset=offset,
        )
        runs = tx.read_runs(ids[:limit])
        page = [run.id for run in runs]
        ranges = tx.read_metric_ranges(page, list(range_keys)) if page and range_keys else {}
        children = tx.read_child_counts(page) if page else {}
        keys = tx.read_recent_keys(found.id, runs=key_runs)
    return RunTable(experiment=found, runs=runs, has_more=len(ids) > limit, ranges=ranges, children=children,
                    keys=keys)


def count_table_runs(client: Client, experiment_id: str, *, filter_expr: Expr | None, top_level: bool = True) -> int:
    """How many runs :func:`run_table` pages through (a separate call: counting scans every match)."""
    with client._store.transaction(write=False) as tx:
        return tx.count_table_runs(experiment_id=experiment_id, filter_expr=filter_expr, top_level=top_level)


def metric_ranges(client: Client, run_ids: Sequence[str], keys: Sequence[str]) -> dict[str, dict[str, MetricRange]]:
    """run id -> metric key -> (min, max) over the metric's history, for the given runs and keys."""
    if not run_ids or not keys:
        return {}
    with client._store.transaction(write=False) as tx:
        return tx.read_metric_ranges([validate_run_id(r) for r in run_ids], list(keys))


def child_counts(client: Client, run_ids: Sequence[str]) -> dict[str, int]:
    """run id -> how many runs are nested directly under it (only runs that have some)."""
    if not run_ids:
        return {}
    with client._store.transaction(write=False) as tx:
        return tx.read_child_counts([validate_run_id(r) for r in run_ids])


def recent_keys(client: Client, experiment_id: str, *, runs: int = 1000) -> RunKeys:
    """The keys used by the experiment's ``runs`` most recent runs (to offer as columns)."""
    with client._store.transaction(write=False) as tx:
        return tx.read_recent_keys(experiment_id, runs=runs)
