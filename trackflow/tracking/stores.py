"""One store and one write buffer per tracking URI and process.

The first store use of a process in a ``TRACKFLOW_HOME`` also replays, in a background
thread, what earlier processes spooled there during a database outage (see
:mod:`trackflow.tracking.replay`; one ``scandir`` when there is nothing).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from trackflow.settings import TrackflowSettings
from trackflow.tracking.buffer import WriteBuffer
from trackflow.tracking.outage import outage_for
from trackflow.tracking.replay import drain_own, start_background
from trackflow.tracking.spool import spool_for
from trackflow.tracking.store.base import TrackingStore

__all__ = ["StoreHandle", "open_store", "close_stores"]


@dataclass(frozen=True)
class StoreHandle:
    """A store with its write buffer."""

    store: TrackingStore
    buffer: WriteBuffer
    experiment_ids: dict[str, str] = field(default_factory=dict)
    """Experiment name -> id (experiments are never renamed or deleted)."""


_handles: dict[str, StoreHandle] = {}
_lock = threading.Lock()


def open_store(uri: str, settings: TrackflowSettings) -> StoreHandle:
    """The process-wide store for ``uri`` (opened, and migrated if empty, on first use)."""
    handle = _handles.get(uri)
    if handle is not None:
        return handle
    with _lock:
        handle = _handles.get(uri)
        if handle is None:
            from trackflow.tracking.store.sqlalchemy_store import SqlAlchemyStore

            store = SqlAlchemyStore(uri, busy_timeout=settings.sqlite_busy_timeout)
            buffer = WriteBuffer(
                store, flush_size=settings.metric_flush_size, flush_interval=settings.metric_flush_interval,
                uri=uri, spool=spool_for(settings.home), outage=outage_for(uri, settings.store_retry_seconds),
                drain=lambda: drain_own(spool_for(settings.home), _opener(settings), uri),
            )  # fmt: skip
            handle = StoreHandle(store=store, buffer=buffer)
            _handles[uri] = handle
    start_background(settings.home, _opener(settings))  # spooled writes of earlier processes
    return handle


def _opener(settings: TrackflowSettings) -> Callable[[str], TrackingStore]:
    """Opens the store of a spooled record's URI (for replaying the spool)."""
    return lambda uri: open_store(uri, settings).store


def close_stores() -> None:
    """Flush and close every open store (tests use this between databases)."""
    with _lock:
        handles = list(_handles.values())
        _handles.clear()
    for handle in handles:
        handle.buffer.flush()
        handle.store.dispose()
