"""Which lineage node a live Python object was recorded as, so a value can be followed.

When a tracked task returns a fitted model (or any object trackflow records as an output
node), the object is remembered here by identity, weakly: nothing is kept alive. A later
task that receives the same object, or ``register_model(model, ...)`` in the flow body,
asks :func:`known_ref` for the node and links to it instead of recording a new one.
Identity only holds within one process; objects copied between processes (Dask workers)
are new objects and are not found here.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

__all__ = ["forget_objects", "known_ref", "remember_ref"]

_refs: dict[int, tuple[weakref.ref[Any], str]] = {}
_lock = threading.Lock()


def remember_ref(obj: Any, ref: str) -> None:
    """Remember that ``obj`` was recorded as lineage node ``ref`` (ignored if not weak-referenceable)."""
    ident = id(obj)

    def gone(_ref: weakref.ref[Any], ident: int = ident) -> None:
        _drop(ident)

    try:
        watcher = weakref.ref(obj, gone)
    except TypeError:
        return
    with _lock:
        _refs[ident] = (watcher, ref)


def known_ref(obj: Any) -> str | None:
    """The lineage node ``obj`` was recorded as in this process, or None."""
    with _lock:
        entry = _refs.get(id(obj))
    if entry is not None and entry[0]() is obj:
        return entry[1]
    return None


def forget_objects() -> None:
    """Forget every remembered object (tests)."""
    with _lock:
        _refs.clear()


def _drop(ident: int) -> None:
    with _lock:
        entry = _refs.get(ident)
        if entry is not None and entry[0]() is None:
            del _refs[ident]
