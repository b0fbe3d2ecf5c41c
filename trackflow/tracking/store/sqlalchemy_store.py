"""The SQLAlchemy implementation of the store (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from trackflow.exceptions import TrackflowError
from trackflow.registry.store.sql_registry import SqlRegistryTransaction
from trackflow.tracking.entities import Artifact, Dataset, Experiment, LineageEdge, LineageNode, Metric, Note, Run
from trackflow.tracking.search import Expr, OrderBy
from trackflow.tracking.store import (
    artifacts,
    datasets,
    experiments,
    lineage,
    metrics,
    notes,
    params,
    runs,
    tags,
)
from trackflow.tracking.store.base import MetricRecord, Store, TrackingTransaction
from trackflow.tracking.store.db import create_tracking_engine, describe_error, write_engine
from trackflow.tracking.store.migrate import ensure_schema
from trackflow.tracking.store.search_sql import build_search_statement

__all__ = ["SqlAlchemyStore", "SqlTrackingTransaction", "SqlStoreTransaction"]


class SqlTrackingTransaction(TrackingTransaction):
    """Tracking operations over one SQLAlchemy session; flushes, never commits."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get_or_create_experiment(self, name: str) -> Experiment:
        return experiments.get_or_create_experiment(self.session, name)

    def read_experiment_by_name(self, name: str) -> Experiment | None:
        return experiments.read_experiment_by_name(self.session, name)

    def read_experiments(self) -> list[Experiment]:
        return experiments.read_experiments(self.session)

    def create_run(self, values: Mapping[str, Any]) -> None:
        runs.create_run(self.session, dict(values))

    def create_runs(self, rows: Sequence[Mapping[str, Any]]) -> None:
        runs.create_runs(self.session, [dict(r) for r in rows])

    def update_run(self, run_id: str, values: Mapping[str, Any]) -> bool:
        return runs.update_run(self.session, run_id, dict(values))

    def read_runs(self, run_ids: Sequence[str]) -> list[Run]:
        return runs.read_runs(self.session, run_ids)

    def read_run_by_prefect_id(self, prefect_id: str) -> Run | None:
        return runs.read_run_by_prefect_id(self.session, prefect_id)

    def read_child_run_ids(self, parent_run_id: str) -> list[str]:
        return runs.read_child_run_ids(self.session, parent_run_id)

    def search_run_ids(
        self,
        *,
        experiment_ids: Sequence[str] | None,
        filter_expr: Expr | None,
        order_by: Sequence[OrderBy],
        limit: int,
        offset: int,
    ) -> list[str]:
        statement = build_search_statement(
            experiment_ids=experiment_ids, filter_expr=filter_expr, order_by=order_by, limit=limit, offset=offset
        )
        return list(self.session.scalars(statement))

    def log_params(self, run_id: str, values: Mapping[str, str]) -> None:
        params.log_params(self.session, run_id, values)

    def read_params(self, run_id: str, keys: list[str] | None = None) -> dict[str, str]:
        return params.read_params(self.session, run_id, keys)

    def log_metrics(self, records: Sequence[MetricRecord]) -> None:
        metrics.log_metrics(self.session, records)

    def read_metric_history(self, run_id: str, key: str) -> list[Metric]:
        return metrics.read_metric_history(self.session, run_id, key)

    def set_tags(self, run_id: str, values: Mapping[str, str]) -> None:
        tags.set_tags(self.session, run_id, values)

    def delete_tag(self, run_id: str, key: str) -> bool:
        return tags.delete_tag(self.session, run_id, key)

    def create_note(self, run_id: str, kind: str, text: str) -> Note:
        return notes.create_note(self.session, run_id, kind, text)

    def read_notes(self, run_id: str, kind: str | None = None) -> list[Note]:
        return notes.read_notes(self.session, run_id, kind)

    def record_artifacts(self, rows: Sequence[Mapping[str, Any]]) -> None:
        artifacts.record_artifacts(self.session, [dict(r) for r in rows])

    def read_artifacts(self, run_id: str, prefix: str = "") -> list[Artifact]:
        return artifacts.read_artifacts(self.session, run_id, prefix)

    def upsert_dataset(self, **fields: Any) -> Dataset:
        return datasets.upsert_dataset(self.session, **fields)

    def read_datasets_by_fingerprint(self, fingerprints: list[str]) -> dict[str, Dataset]:
        return datasets.read_datasets_by_fingerprint(self.session, fingerprints)

    def create_edges(self, edges: Sequence[Mapping[str, Any]]) -> None:
        lineage.create_edges(self.session, [dict(e) for e in edges])

    def read_edges(self, nodes: Sequence[str], *, outgoing: bool) -> list[LineageEdge]:
        return lineage.read_edges(self.session, nodes, outgoing=outgoing)

    def create_nodes(self, nodes: Sequence[Mapping[str, Any]]) -> None:
        lineage.create_nodes(self.session, [dict(n) for n in nodes])

    def read_nodes(self, node_ids: Sequence[str]) -> dict[str, LineageNode]:
        return lineage.read_nodes(self.session, node_ids)

    def read_nodes_by_content_hash(self, content_hash: str, *, kind: str) -> list[LineageNode]:
        return lineage.read_nodes_by_content_hash(self.session, content_hash, kind=kind)


class SqlStoreTransaction(SqlTrackingTransaction, SqlRegistryTransaction):
    """Tracking and registry operations over one session (what ``transaction()`` yields)."""


class SqlAlchemyStore(Store):
    """A store on any SQLAlchemy URL trackflow supports (SQLite, PostgreSQL).

    Opening it checks the schema: an empty database is migrated, one at another
    revision is refused (see :mod:`trackflow.tracking.store.migrate`).
    """

    transaction_class: type[Any] = SqlStoreTransaction

    def __init__(self, uri: str, *, busy_timeout: float = 60.0) -> None:
        self.uri = uri
        self.engine: Engine = create_tracking_engine(uri, busy_timeout=busy_timeout)
        self._write_engine = write_engine(self.engine)
        # SQLite has one writer at a time: threads of this process queue on a Python lock
        # (an immediate hand-over) instead of in SQLite's busy handler, which sleeps.
        self._write_lock: Any = threading.RLock() if self.engine.dialect.name == "sqlite" else nullcontext()
        _stores.add(self)
        try:
            ensure_schema(self.engine)
        except TrackflowError:
            self.engine.dispose()
            raise
        except (OperationalError, DBAPIError) as exc:
            self.engine.dispose()
            raise describe_error(exc) from exc

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Any]:
        engine = self._write_engine if write else self.engine
        lock = self._write_lock if write else nullcontext()
        try:
            with lock, Session(engine, expire_on_commit=False) as session, session.begin():
                yield self.transaction_class(session)
        except (OperationalError, DBAPIError) as exc:
            raise describe_error(exc) from exc

    def dispose(self) -> None:
        self.engine.dispose()


_stores: weakref.WeakSet[SqlAlchemyStore] = weakref.WeakSet()


def _reset_locks_after_fork() -> None:
    """A lock held by another thread of the parent would never be released in the child."""
    for store in list(_stores):
        if store.dialect == "sqlite":
            store._write_lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_locks_after_fork)
