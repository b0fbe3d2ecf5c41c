"""The abstract tracking store: the seam between the Client and a database.

A :class:`Store` hands out transactions; the caller (the Client) owns them: every call
on a :class:`TrackingTransaction` takes effect when the ``with`` block ends without an
error, and nothing does otherwise. Implementations return frozen entities only.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from trackflow.tracking.entities import Artifact, Dataset, Experiment, LineageEdge, LineageNode, Metric, Note, Run
from trackflow.tracking.search import Expr, OrderBy

__all__ = ["MetricRecord", "TrackingTransaction", "Store"]

MetricRecord = tuple[str, str, float, int, int]
"""(run_id, key, value, step, timestamp in ms), validated by the caller."""


class TrackingTransaction(abc.ABC):
    """Tracking operations inside one database transaction."""

    # experiments
    @abc.abstractmethod
    def get_or_create_experiment(self, name: str) -> Experiment: ...
    @abc.abstractmethod
    def read_experiment_by_name(self, name: str) -> Experiment | None: ...
    @abc.abstractmethod
    def read_experiments(self) -> list[Experiment]: ...

    # runs
    @abc.abstractmethod
    def create_run(self, values: Mapping[str, Any]) -> None: ...
    @abc.abstractmethod
    def create_runs(self, rows: Sequence[Mapping[str, Any]]) -> None: ...
    @abc.abstractmethod
    def update_run(self, run_id: str, values: Mapping[str, Any]) -> bool: ...
    @abc.abstractmethod
    def read_runs(self, run_ids: Sequence[str]) -> list[Run]: ...
    @abc.abstractmethod
    def read_run_by_prefect_id(self, prefect_id: str) -> Run | None: ...
    @abc.abstractmethod
    def read_child_run_ids(self, parent_run_id: str) -> list[str]: ...
    @abc.abstractmethod
    def search_run_ids(
        self,
        *,
        experiment_ids: Sequence[str] | None,
        filter_expr: Expr | None,
        order_by: Sequence[OrderBy],
        limit: int,
        offset: int,
    ) -> list[str]: ...

    # run data
    @abc.abstractmethod
    def log_params(self, run_id: str, params: Mapping[str, str]) -> None: ...
    @abc.abstractmethod
    def read_params(self, run_id: str, keys: list[str] | None = None) -> dict[str, str]: ...
    @abc.abstractmethod
    def log_metrics(self, records: Sequence[MetricRecord]) -> None: ...
    @abc.abstractmethod
    def read_metric_history(self, run_id: str, key: str) -> list[Metric]: ...
    @abc.abstractmethod
    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None: ...
    @abc.abstractmethod
    def delete_tag(self, run_id: str, key: str) -> bool: ...
    @abc.abstractmethod
    def create_note(self, run_id: str, kind: str, text: str) -> Note: ...
    @abc.abstractmethod
    def read_notes(self, run_id: str, kind: str | None = None) -> list[Note]: ...

    # artifacts, datasets, lineage
    @abc.abstractmethod
    def record_artifacts(self, rows: Sequence[Mapping[str, Any]]) -> None: ...
    @abc.abstractmethod
    def read_artifacts(self, run_id: str, prefix: str = "") -> list[Artifact]: ...
    @abc.abstractmethod
    def upsert_dataset(self, **fields: Any) -> Dataset: ...
    @abc.abstractmethod
    def read_datasets_by_fingerprint(self, fingerprints: list[str]) -> dict[str, Dataset]: ...
    @abc.abstractmethod
    def create_edges(self, edges: Sequence[Mapping[str, Any]]) -> None: ...
    @abc.abstractmethod
    def read_edges(self, nodes: Sequence[str], *, outgoing: bool) -> list[LineageEdge]: ...
    @abc.abstractmethod
    def create_nodes(self, nodes: Sequence[Mapping[str, Any]]) -> None: ...
    @abc.abstractmethod
    def read_nodes(self, node_ids: Sequence[str]) -> dict[str, LineageNode]: ...
    @abc.abstractmethod
    def read_nodes_by_content_hash(self, content_hash: str, *, kind: str) -> list[LineageNode]: ...


class Store(abc.ABC):
    """A tracking database. ``transaction()`` yields the operations of one transaction."""

    uri: str

    @abc.abstractmethod
    def transaction(self, *, write: bool = True) -> AbstractContextManager[Any]:
        """Open a transaction; commit when the block ends, roll back on an exception."""

    @abc.abstractmethod
    def dispose(self) -> None:
        """Close the store's connections."""
