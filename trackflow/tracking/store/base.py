"""The abstract tracking store: the seam between the Client and a database.

A :class:`Store` hands out transactions; the caller (the Client) owns them: every call on
the transaction takes effect when the ``with`` block ends without an error, and nothing
does otherwise. ``Store`` is generic in what its transactions can do: the tracking side
holds a :data:`TrackingStore` (``Store[TrackingTransaction]``); the registry, which sits
above tracking, views the same database as ``Store[StoreTransaction]``
(:mod:`trackflow.registry.store.base`). This module knows nothing of the registry.

What every :class:`TrackingTransaction` method guarantees:

- it runs inside the caller's transaction: it flushes, never commits or rolls back;
- it returns frozen entities (:mod:`trackflow.tracking.entities`), never ORM rows;
- its input was validated by the caller (ids, keys, values, sizes); the store does not
  check it again, and a value the database refuses (an unknown run, a duplicate id) fails
  the transaction: the ``with`` block raises :class:`~trackflow.exceptions.StoreError`,
  as for any database failure, and nothing of the block is written.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Generic, TypeVar

from trackflow.tracking.entities import Artifact, Dataset, Experiment, LineageEdge, LineageNode, Metric, Note, Run
from trackflow.tracking.histories import Histories
from trackflow.tracking.search import Expr, OrderBy
from trackflow.tracking.summaries import ExperimentSummary, MetricRange, RunKeys

__all__ = ["MetricRecord", "TrackingTransaction", "Store", "TrackingStore", "TxT_co"]

MetricRecord = tuple[str, str, float, int, int]
"""(run_id, key, value, step, timestamp in ms), validated by the caller."""


class TrackingTransaction(abc.ABC):
    """Tracking operations inside one database transaction (see the module's contract)."""

    # ---- experiments -----------------------------------------------------------------

    @abc.abstractmethod
    def get_or_create_experiment(self, name: str) -> Experiment:
        """The experiment called ``name``, created first if there is none.

        Race-safe: concurrent callers creating the same name all get the one experiment.
        """

    @abc.abstractmethod
    def read_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment called ``name``, or None."""

    @abc.abstractmethod
    def read_experiments(self) -> list[Experiment]:
        """Every experiment, by name."""

    # ---- runs ------------------------------------------------------------------------

    @abc.abstractmethod
    def create_run(self, values: Mapping[str, Any]) -> None:
        """Insert one run from its column values (``id``, ``experiment_id``, ``status`` ...).

        An id that exists already, or an unknown experiment or parent, fails the transaction.
        """

    @abc.abstractmethod
    def create_prefect_run(self, values: Mapping[str, Any]) -> str:
        """Insert the run of a Prefect task run (``task_run_id``) or flow run (``kind`` flow,
        ``flow_run_id``) unless that Prefect run has one; the id of its run (the new or the
        existing one). Race-safe: of concurrent callers one inserts, the others read its run.
        """

    @abc.abstractmethod
    def resume_run(self, run_id: str, values: Mapping[str, Any], *, clear_metrics: bool) -> None:
        """Start another execution of a run: set ``values`` (status, end time, pid ...), add one
        to its attempts (atomically) and, with ``clear_metrics``, delete its metric values."""

    @abc.abstractmethod
    def delete_metrics_before(self, run_id: str, before: int) -> None:
        """Delete the metric values of a run logged before ``before`` (ms) and compute its
        latest values again from the history that is left."""

    @abc.abstractmethod
    def create_runs(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert many runs (as :meth:`create_run`) in one statement; nothing for no rows."""

    @abc.abstractmethod
    def update_run(self, run_id: str, values: Mapping[str, Any]) -> bool:
        """Set columns of one run (status, end time, error ...); False if there is no such run."""

    @abc.abstractmethod
    def read_runs(self, run_ids: Sequence[str]) -> list[Run]:
        """Runs with their params, latest metrics and tags (each sorted by key).

        In the order of ``run_ids``; unknown ids are left out. Any number of ids (read in
        chunks).
        """

    @abc.abstractmethod
    def read_run_by_prefect_id(self, prefect_id: str) -> Run | None:
        """The run bound to a Prefect task-run id, or to a flow-run id (only the flow's own
        run, not its task runs); the most recently started one if several; else None."""

    @abc.abstractmethod
    def read_child_run_ids(self, parent_run_id: str) -> list[str]:
        """Ids of the runs whose parent is ``parent_run_id``, oldest first (start time, id)."""

    @abc.abstractmethod
    def search_run_ids(
        self,
        *,
        experiment_ids: Sequence[str] | None,
        filter_expr: Expr | None,
        order_by: Sequence[OrderBy],
        limit: int,
        offset: int,
    ) -> list[str]:
        """One page of the ids of the runs matching ``filter_expr``.

        ``experiment_ids=None`` searches every experiment, ``[]`` matches nothing. Sorted by
        ``order_by`` (runs without a sort key last), then newest start first, then id.
        Raises :class:`~trackflow.exceptions.InvalidInputError` for a negative ``limit`` or
        ``offset`` or an unknown sort attribute.
        """

    # ---- run data --------------------------------------------------------------------

    @abc.abstractmethod
    def log_params(self, run_id: str, params: Mapping[str, str]) -> None:
        """Store params of a run: write-once per key.

        The same value again is a no-op; another value (stored before, or by a concurrent
        writer) raises :class:`~trackflow.exceptions.ConflictError` naming the keys, and
        the caller's transaction rolls back.
        """

    @abc.abstractmethod
    def read_params(self, run_id: str, keys: list[str] | None = None) -> dict[str, str]:
        """Params of a run, key -> value (only ``keys`` when given; missing keys are left out)."""

    @abc.abstractmethod
    def log_metrics(self, records: Sequence[MetricRecord]) -> None:
        """Append metric values to their history and move each key's latest value forward.

        The latest value is the one with the highest step, then the newest timestamp (an
        equal timestamp replaces). NaN is stored and read back as NaN.
        """

    @abc.abstractmethod
    def read_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every value of one metric of one run, by step, timestamp, then logging order."""

    @abc.abstractmethod
    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        """Set tags of a run, overwriting the values of existing keys."""

    @abc.abstractmethod
    def delete_tag(self, run_id: str, key: str) -> bool:
        """Remove a tag of a run; False if it was not set."""

    @abc.abstractmethod
    def create_note(self, run_id: str, kind: str, text: str) -> Note:
        """Add a note (kind: note, decision, assumption, finding) stamped now; the new note."""

    @abc.abstractmethod
    def read_notes(self, run_id: str, kind: str | None = None) -> list[Note]:
        """Notes of a run (only one ``kind`` when given), oldest first, with their evidence
        and the runs they inform (their ``evidence`` / ``informs`` lineage edges)."""

    @abc.abstractmethod
    def read_notes_of_runs(self, run_ids: Sequence[str]) -> dict[str, list[Note]]:
        """run id -> its notes, oldest first, as :meth:`read_notes` (runs without notes left out)."""

    @abc.abstractmethod
    def read_notes_by_id(self, note_ids: Sequence[int]) -> dict[int, Note]:
        """Notes by id, with evidence and informs as :meth:`read_notes`; unknown ids left out."""

    @abc.abstractmethod
    def search_notes(
        self, *, terms: Sequence[str], kind: str | None, experiment_id: str | None, run_id: str | None, limit: int
    ) -> list[Note]:
        """Notes of live runs holding every one of ``terms`` (lowercase words; a word of the
        text starting with the term matches; no terms: every note), of one ``kind``,
        experiment or run when given; newest first, at most ``limit``."""

    # ---- artifacts, datasets, lineage ------------------------------------------------

    @abc.abstractmethod
    def record_artifacts(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Record stored files (run_id, path, uri, sha256, size, media_type, created_at).

        A path recorded already for the run is replaced (the file was replaced).
        """

    @abc.abstractmethod
    def read_artifacts(self, run_id: str, prefix: str = "") -> list[Artifact]:
        """Artifact records of a run whose path is ``prefix`` or lies under it, by path."""

    @abc.abstractmethod
    def upsert_dataset(
        self,
        *,
        fingerprint: str,
        name: str,
        kind: str,
        schema: Any,
        num_rows: int | None,
        num_columns: int | None,
        profile: Any,
        source: str | None,
        size_bytes: int | None,
    ) -> Dataset:
        """The dataset with this content fingerprint, recorded first if it is new.

        A fingerprint recorded already is kept as it was (the first name, source ...
        win); race-safe. ``schema`` and ``profile`` must be JSON-serializable.
        """

    @abc.abstractmethod
    def read_datasets_by_fingerprint(self, fingerprints: list[str]) -> dict[str, Dataset]:
        """Datasets by fingerprint; unknown fingerprints are left out."""

    @abc.abstractmethod
    def create_edges(self, edges: Sequence[Mapping[str, Any]]) -> None:
        """Record lineage edges (source, target, relation, run_id, name, created_at).

        An edge recorded already (same source, target, relation) is kept as it was.
        Edges have no foreign keys: their nodes need not exist (yet).
        """

    @abc.abstractmethod
    def read_edges(self, nodes: Sequence[str], *, outgoing: bool) -> list[LineageEdge]:
        """Edges leaving (``outgoing``) or entering any of ``nodes``, in recording order
        (within each chunk of 500 nodes when there are more)."""

    @abc.abstractmethod
    def create_nodes(self, nodes: Sequence[Mapping[str, Any]]) -> None:
        """Record lineage nodes (id, kind, label, run_id, content_hash, attributes_json,
        created_at); an id recorded already is kept as it was."""

    @abc.abstractmethod
    def read_nodes(self, node_ids: Sequence[str]) -> dict[str, LineageNode]:
        """The recorded nodes among ``node_ids``, by id (unrecorded ids are left out)."""

    @abc.abstractmethod
    def read_nodes_by_content_hash(self, content_hash: str, *, kind: str) -> list[LineageNode]:
        """Recorded nodes of ``kind`` whose content has this hash, oldest first."""


    # ---- summaries (the web ui; see trackflow.tracking.summaries) --------------------

    @abc.abstractmethod
    def read_experiment_summaries(self, *, metric: str | None, mode: str) -> list[ExperimentSummary]:
        """Every experiment by name with run counts, last start and the best (``mode`` max/min) latest ``metric``."""

    @abc.abstractmethod
    def search_table_run_ids(
        self, *, experiment_id: str, filter_expr: Expr | None, order_by: Sequence[OrderBy],
        order_by_duration: bool | None, top_level: bool, limit: int, offset: int,
    ) -> list[str]:
        """Like :meth:`search_run_ids` in one experiment, optionally top-level runs only or by duration."""

    @abc.abstractmethod
    def count_table_runs(self, *, experiment_id: str, filter_expr: Expr | None, top_level: bool) -> int:
        """How many runs :meth:`search_table_run_ids` would page through."""

    @abc.abstractmethod
    def read_metric_ranges(self, run_ids: Sequence[str], keys: Sequence[str]) -> dict[str, dict[str, MetricRange]]:
        """run id -> key -> (min, max) over the metric histories of these runs and keys."""

    @abc.abstractmethod
    def read_child_counts(self, run_ids: Sequence[str]) -> dict[str, int]:
        """run id -> number of runs whose parent it is (runs without children left out)."""

    @abc.abstractmethod
    def read_recent_keys(self, experiment_id: str, *, runs: int) -> RunKeys:
        """Param, metric and tag keys of the experiment's ``runs`` most recent runs."""

    @abc.abstractmethod
    def read_metric_histories(self, run_ids: Sequence[str], keys: Sequence[str] | None) -> Histories:
        """run id -> key -> ``(step, value, timestamp ms)`` of every logged value (all keys when None)."""

    # ---- look-ups and life cycle (see trackflow.tracking.store.run_lookup / .lifecycle) --

    @abc.abstractmethod
    def read_fingerprints_by_prefix(self, prefix: str, *, limit: int) -> list[str]:
        """Dataset fingerprints starting with ``prefix`` (taken literally), sorted, at most ``limit``."""

    @abc.abstractmethod
    def search_listed_run_ids(
        self, *, experiment_ids: Sequence[str] | None, filter_expr: Expr | None, order_by: Sequence[OrderBy],
        top_level: bool, deleted: bool | None, limit: int, offset: int,
    ) -> list[str]:
        """Like :meth:`search_run_ids`; ``top_level`` keeps runs without a parent, ``deleted``
        keeps only deleted (True) or only live (False) runs, or both (None)."""

    @abc.abstractmethod
    def read_deleted(self, run_ids: Sequence[str]) -> dict[str, int]:
        """run id -> when it was deleted (ms), for the deleted runs among ``run_ids``."""

    @abc.abstractmethod
    def read_deleted_run_ids(self) -> list[str]:
        """Every deleted run's id, oldest deletion first."""

    @abc.abstractmethod
    def set_deleted(self, run_ids: Sequence[str], deleted: bool) -> list[str]:
        """Mark runs deleted (or restore them); the ids whose state changed."""

    @abc.abstractmethod
    def read_descendant_run_ids(self, run_ids: Sequence[str]) -> list[str]:
        """Ids of the runs nested, at any depth, under ``run_ids``."""

    @abc.abstractmethod
    def read_registered_run_ids(self, run_ids: Sequence[str]) -> set[str]:
        """The runs among ``run_ids`` a registered model version was made from."""

    @abc.abstractmethod
    def purge_runs(self, run_ids: Sequence[str]) -> None:
        """Remove runs for good: their rows, deletion marks and the lineage they recorded."""

    @abc.abstractmethod
    def count_experiment_runs(self, experiment_id: str) -> tuple[int, int]:
        """(all runs, deleted runs) of an experiment."""

    @abc.abstractmethod
    def rename_experiment(self, experiment_id: str, name: str) -> None:
        """Give an experiment another (unused, validated) name."""

    @abc.abstractmethod
    def delete_experiment(self, experiment_id: str) -> None:
        """Remove an experiment that has no runs left."""

TxT_co = TypeVar("TxT_co", bound=TrackingTransaction, covariant=True)


class Store(abc.ABC, Generic[TxT_co]):
    """A tracking database; ``transaction()`` yields the operations of one transaction."""

    uri: str

    @abc.abstractmethod
    def transaction(self, *, write: bool = True) -> AbstractContextManager[TxT_co]:
        """Open a transaction: commit when the block ends, roll back on an exception.

        Pass ``write=False`` when the block only reads: it does not queue behind writers
        (on SQLite it neither takes the process write lock nor ``BEGIN IMMEDIATE``). Database failures,
        in the block or at commit, raise :class:`~trackflow.exceptions.StoreError`; other
        exceptions propagate unchanged (after the rollback).
        """

    def batch_transaction(self) -> AbstractContextManager[TxT_co]:
        """A write transaction for the write buffer's batches, with the contract of
        ``transaction()``. Only ``create_runs``, ``log_params``, ``read_params``,
        ``set_tags``, ``log_metrics`` and ``update_run`` are called on it, so a store may
        make it cheaper than a general transaction; by default it is one.
        """
        return self.transaction()

    @abc.abstractmethod
    def dispose(self) -> None:
        """Close the store's connections (it opens new ones if used again)."""


TrackingStore = Store[TrackingTransaction]
"""The store as the tracking side (Client, write buffer) sees it."""
