"""The SQLAlchemy implementation of the store (SQLite and PostgreSQL).

Every operation is written once, in the operation class of its entity's module
(:class:`~.experiments.ExperimentOps`, :class:`~.runs.RunOps` ...), against the session
of the transaction; :class:`SqlTrackingTransaction` only combines them. The registry
adds its own operation classes on top (``trackflow.registry.store.sql_registry``) and
views this store with them through :meth:`SqlAlchemyStore.with_transactions`: tracking
never imports the registry.
"""

from __future__ import annotations

import copy
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, TypeVar, cast, overload

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from trackflow.exceptions import TrackflowError
from trackflow.tracking.store.artifacts import ArtifactOps
from trackflow.tracking.store.base import Store, TrackingTransaction
from trackflow.tracking.store.datasets import DatasetOps
from trackflow.tracking.store.db import create_tracking_engine, describe_error, write_engine
from trackflow.tracking.store.experiments import ExperimentOps
from trackflow.tracking.store.histories import HistoryOps
from trackflow.tracking.store.lifecycle import LifecycleOps
from trackflow.tracking.store.lineage import LineageOps
from trackflow.tracking.store.metrics import MetricOps
from trackflow.tracking.store.migrate import ensure_schema
from trackflow.tracking.store.notes import NoteOps
from trackflow.tracking.store.params import ParamOps
from trackflow.tracking.store.run_lookup import RunLookupOps
from trackflow.tracking.store.runs import RunOps
from trackflow.tracking.store.summaries import SummaryOps
from trackflow.tracking.store.tags import TagOps

__all__ = ["SqlAlchemyStore", "SqlDatabase", "SqlTrackingTransaction"]


class SqlTrackingTransaction(
    ExperimentOps,
    RunOps,
    ParamOps,
    MetricOps,
    TagOps,
    NoteOps,
    ArtifactOps,
    DatasetOps,
    LineageOps,
    HistoryOps,
    SummaryOps,
    RunLookupOps,
    LifecycleOps,
    TrackingTransaction,
):
    """Tracking operations over one SQLAlchemy session; flushes, never commits."""


TxT = TypeVar("TxT", bound=TrackingTransaction)
OtherTxT = TypeVar("OtherTxT", bound=TrackingTransaction)


class SqlDatabase:
    """One database: its engines and the process write lock that every view of it shares.

    Opening it checks the schema: an empty database is migrated, one at another revision
    is refused (see :mod:`trackflow.tracking.store.migrate`).
    """

    def __init__(self, uri: str, *, busy_timeout: float = 60.0) -> None:
        self.engine: Engine = create_tracking_engine(uri, busy_timeout=busy_timeout)
        self.write_engine = write_engine(self.engine)
        # SQLite has one writer at a time: threads of this process queue on a Python lock
        # (an immediate hand-over) instead of in SQLite's busy handler, which sleeps.
        self.write_lock: AbstractContextManager[Any] = self._new_write_lock()
        _databases.add(self)
        try:
            ensure_schema(self.engine)
        except TrackflowError:
            self.engine.dispose()
            raise
        except (OperationalError, DBAPIError) as exc:
            self.engine.dispose()
            raise describe_error(exc) from exc

    def _new_write_lock(self) -> AbstractContextManager[Any]:
        return threading.RLock() if self.engine.dialect.name == "sqlite" else nullcontext()

    def dispose(self) -> None:
        """Close the pooled connections."""
        self.engine.dispose()


class SqlAlchemyStore(Store[TxT]):
    """A store on any SQLAlchemy URL trackflow supports (SQLite, PostgreSQL).

    ``SqlAlchemyStore(uri)`` hands out :class:`SqlTrackingTransaction`; a layer above
    tracking passes its own ``transaction_class`` (a callable taking the session), or
    views an open store with :meth:`with_transactions`.
    """

    @overload
    def __init__(self: SqlAlchemyStore[SqlTrackingTransaction], uri: str, *, busy_timeout: float = ...) -> None: ...
    @overload
    def __init__(
        self, uri: str, *, busy_timeout: float = ..., transaction_class: Callable[[Session], TxT]
    ) -> None: ...
    def __init__(
        self,
        uri: str,
        *,
        busy_timeout: float = 60.0,
        transaction_class: Callable[[Session], Any] = SqlTrackingTransaction,
    ) -> None:
        self.uri = uri
        self.database = SqlDatabase(uri, busy_timeout=busy_timeout)
        self.transaction_class: Callable[[Session], TxT] = transaction_class

    def with_transactions(self, transaction_class: Callable[[Session], OtherTxT]) -> SqlAlchemyStore[OtherTxT]:
        """This store (same database, engines and write lock) handing out ``transaction_class``."""
        view: SqlAlchemyStore[Any] = copy.copy(self)
        view.transaction_class = transaction_class
        return view

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine."""
        return self.database.engine

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.database.engine.dialect.name

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[TxT]:
        database = self.database
        engine = database.write_engine if write else database.engine
        lock = database.write_lock if write else nullcontext()
        try:
            with lock, Session(engine, expire_on_commit=False) as session, session.begin():
                yield self.transaction_class(session)
        except (OperationalError, DBAPIError) as exc:
            raise describe_error(exc) from exc

    @contextmanager
    def batch_transaction(self) -> Iterator[TxT]:
        """A write transaction on a Connection, without an ORM Session (which costs more
        than SQLite's commit of a short run): the batch operations use only the connection
        (see :class:`_ConnectionScope`)."""
        database = self.database
        try:
            with database.write_lock, database.write_engine.begin() as connection:
                yield self.transaction_class(cast(Session, _ConnectionScope(connection)))
        except (OperationalError, DBAPIError) as exc:
            raise describe_error(exc) from exc

    def dispose(self) -> None:
        self.database.dispose()


class _ConnectionScope:
    """What the batch operations use of a Session, over a Connection in a transaction:
    ``connection()``, Core ``execute`` / ``scalars`` / ``scalar``, ``get_bind()``. An ORM
    operation (``add``, ``get``, ``flush``) fails loudly: it has no place in a batch."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def connection(self) -> Connection:
        return self._connection

    def execute(self, statement: Any, parameters: Any = None) -> Any:
        return self._connection.execute(statement, parameters)

    def scalars(self, statement: Any, parameters: Any = None) -> Any:
        return self._connection.scalars(statement, parameters)

    def scalar(self, statement: Any, parameters: Any = None) -> Any:
        return self._connection.scalar(statement, parameters)

    def get_bind(self) -> Engine:
        return self._connection.engine


_databases: weakref.WeakSet[SqlDatabase] = weakref.WeakSet()


def _reset_locks_after_fork() -> None:
    """A lock held by another thread of the parent would never be released in the child."""
    for database in list(_databases):
        database.write_lock = database._new_write_lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_locks_after_fork)
