"""One store and one write buffer per tracking URI and process."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from trackflow.settings import TrackflowSettings
from trackflow.tracking.buffer import WriteBuffer
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
                store, flush_size=settings.metric_flush_size, flush_interval=settings.metric_flush_interval
            )
            handle = StoreHandle(store=store, buffer=buffer)
            _handles[uri] = handle
    return handle


def close_stores() -> None:
    """Flush and close every open store (tests use this between databases)."""
    with _lock:
        handles = list(_handles.values())
        _handles.clear()
    for handle in handles:
        handle.buffer.flush()
        handle.store.dispose()
