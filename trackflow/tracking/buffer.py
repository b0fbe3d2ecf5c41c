"""The write buffer: params, metrics and tags logged one at a time, written in batches.

``log_metric`` must not cost a database round trip per call. Values are queued in memory
and written in one transaction when the run ends, when the queue reaches
``flush_size`` values, every ``flush_interval`` seconds (a background thread), before any
read through the Client, and at interpreter exit. A failed write puts the values back in
the queue, so nothing is lost. Param conflicts are checked at call time against what this
process knows of the run (loaded from the store once per run).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trackflow.exceptions import ConflictError, TrackflowError
from trackflow.tracking.store.base import MetricRecord, TrackingStore
from trackflow.tracking.validation import param_conflict_error

__all__ = ["WriteBuffer", "flush_all_buffers"]

logger = logging.getLogger("trackflow")
_buffers: weakref.WeakSet[WriteBuffer] = weakref.WeakSet()


@dataclass
class _Batch:
    """What one flush writes, in this order: runs, params, tags, metrics, run updates."""

    runs: list[dict[str, Any]]
    params: dict[str, dict[str, str]]
    tags: dict[str, dict[str, str]]
    metrics: list[MetricRecord]
    updates: dict[str, dict[str, Any]]

    @property
    def empty(self) -> bool:
        return not (self.runs or self.params or self.tags or self.metrics or self.updates)


class WriteBuffer:
    """A per-store queue of pending writes, flushed in batches."""

    def __init__(self, store: TrackingStore, *, flush_size: int = 5000, flush_interval: float = 2.0) -> None:
        self.store = store
        self.flush_size = flush_size
        self.flush_interval = flush_interval
        self._reset_state()
        _buffers.add(self)

    def _reset_state(self) -> None:
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._metrics: list[MetricRecord] = []
        self._params: dict[str, dict[str, str]] = {}
        self._tags: dict[str, dict[str, str]] = {}
        self._new_runs: list[dict[str, Any]] = []
        self._run_updates: dict[str, dict[str, Any]] = {}
        self._unwritten_runs: set[str] = set()
        self._known_params: dict[str, dict[str, str]] = {}
        self._known_runs: set[str] = set()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    # ---- queueing -------------------------------------------------------------------

    def add_metrics(self, records: list[MetricRecord]) -> None:
        """Queue metric values (validated by the caller)."""
        self._check_fork()
        with self._lock:
            self._metrics.extend(records)
            pending = len(self._metrics)
        self._ensure_thread()
        self._after_queued(pending)

    def add_metric(self, record: MetricRecord) -> None:
        """Queue one metric value; the hot path of ``log_metric``."""
        if self._pid != os.getpid():
            self._check_fork()
        with self._lock:
            self._metrics.append(record)
            pending = len(self._metrics)
        if self._thread is None:
            self._ensure_thread()
        if pending >= self.flush_size:
            self._after_queued(pending)

    def _after_queued(self, pending: int) -> None:
        """Wake the writer at ``flush_size`` queued values; write here at 10x (back-pressure)."""
        if pending >= self.flush_size * 10:
            self.flush()  # the writer thread is not keeping up
        elif pending >= self.flush_size:
            self._wake.set()

    def add_params(self, run_id: str, params: Mapping[str, str]) -> None:
        """Queue params after checking them against what the run already has.

        Raises ConflictError (queueing nothing) when a key has another value.
        """
        self.add_batch(run_id, params=params)

    def add_batch(
        self,
        run_id: str,
        *,
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        metrics: list[MetricRecord] | None = None,
    ) -> None:
        """Queue params, tags and metrics of one run together: all of them or none.

        Params are checked first against what this process knows of the run (read from the
        store once per run); a conflicting value raises ConflictError and queues nothing.
        Everything is queued under one lock, so one flush writes all of it or none.
        """
        self._check_fork()
        if params and run_id not in self._known_params:
            with self.store.transaction(write=False) as tx:
                stored = tx.read_params(run_id)
            with self._lock:
                self._known_params.setdefault(run_id, {}).update(stored)
        with self._lock:
            if params:
                known = self._known_params[run_id]
                conflicts = [(k, known[k], v) for k, v in params.items() if k in known and known[k] != v]
                if conflicts:
                    raise param_conflict_error(run_id, conflicts)
                new = {k: v for k, v in params.items() if k not in known}
                known.update(new)
                if new:
                    self._params.setdefault(run_id, {}).update(new)
            if tags:
                self._tags.setdefault(run_id, {}).update(tags)
            if metrics:
                self._metrics.extend(metrics)
            pending = len(self._metrics)
        self._ensure_thread()
        self._after_queued(pending)

    def add_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        """Queue tags (last value wins)."""
        self._check_fork()
        with self._lock:
            self._tags.setdefault(run_id, {}).update(tags)
        self._ensure_thread()

    def add_run(self, values: Mapping[str, Any]) -> None:
        """Queue the creation of a run (validated by the Client); written before its data."""
        self._check_fork()
        with self._lock:
            self._new_runs.append(dict(values))
            self._unwritten_runs.add(values["id"])
        self.mark_new_run(values["id"])
        self._ensure_thread()

    def ensure_written(self, run_id: str) -> None:
        """Flush first when ``run_id`` is still queued (before a direct write that needs its row)."""
        if run_id in self._unwritten_runs:
            self.flush()

    def add_run_update(self, run_id: str, values: Mapping[str, Any]) -> None:
        """Queue changes to a run's attributes (status, end time ...); written after its data."""
        self._check_fork()
        with self._lock:
            self._run_updates.setdefault(run_id, {}).update(values)
        self._ensure_thread()

    def mark_new_run(self, run_id: str) -> None:
        """A run created by this process has no params yet: skip the read on first log."""
        with self._lock:
            self._known_params.setdefault(run_id, {})
            self._known_runs.add(run_id)

    def is_known_run(self, run_id: str) -> bool:
        """True when this process has seen ``run_id`` exist (checked once per run)."""
        return run_id in self._known_runs

    def remember_run(self, run_id: str) -> None:
        """Record that ``run_id`` exists in the store."""
        self._known_runs.add(run_id)

    def remember_params(self, run_id: str, params: Mapping[str, str]) -> None:
        """Record params written directly (by log_batch) so later conflicts are caught."""
        with self._lock:
            if run_id in self._known_params:
                self._known_params[run_id].update(params)

    def forget_run(self, run_id: str) -> None:
        """Drop the cached params of an ended run."""
        with self._lock:
            self._known_params.pop(run_id, None)

    @property
    def pending(self) -> int:
        """How many values wait to be written."""
        with self._lock:
            return (
                len(self._metrics)
                + len(self._new_runs)
                + len(self._run_updates)
                + sum(map(len, self._params.values()))
                + sum(map(len, self._tags.values()))
            )

    # ---- writing --------------------------------------------------------------------

    def flush(self) -> None:
        """Write everything queued, in one transaction. Re-queues it if the write fails."""
        self._check_fork()
        with self._flush_lock:
            with self._lock:
                batch = _Batch(self._new_runs, self._params, self._tags, self._metrics, self._run_updates)
                self._new_runs, self._params, self._tags, self._metrics, self._run_updates = [], {}, {}, [], {}
            if batch.empty:
                return
            try:
                self._write(batch)
            except BaseException:
                self._requeue(batch)
                raise
            with self._lock:
                self._unwritten_runs.difference_update(r["id"] for r in batch.runs)

    def _requeue(self, batch: _Batch) -> None:
        with self._lock:
            self._new_runs[:0] = batch.runs
            self._metrics[:0] = batch.metrics
            for run_id, values in batch.params.items():
                self._params[run_id] = {**values, **self._params.get(run_id, {})}
            for run_id, values in batch.tags.items():
                self._tags[run_id] = {**values, **self._tags.get(run_id, {})}
            for run_id, values in batch.updates.items():
                self._run_updates[run_id] = {**values, **self._run_updates.get(run_id, {})}

    def _write(self, batch: _Batch) -> None:
        rejected: list[str] = []
        for row in batch.runs:  # a run created and ended in one batch is inserted ended
            row.update(batch.updates.pop(row["id"], {}))
        with self.store.transaction() as tx:
            if batch.runs:
                tx.create_runs(batch.runs)
            for run_id, values in batch.params.items():
                try:
                    tx.log_params(run_id, values)
                except ConflictError as exc:
                    # another process logged the key first: keep its value, report ours
                    rejected.append(str(exc))
                    stored = tx.read_params(run_id)
                    tx.log_params(run_id, {k: v for k, v in values.items() if k not in stored})
            for run_id, values in batch.tags.items():
                tx.set_tags(run_id, values)
            tx.log_metrics(batch.metrics)
            for run_id, values in batch.updates.items():
                tx.update_run(run_id, values)
        for message in rejected:
            logger.warning("trackflow: %s (the stored value was kept)", message)

    # ---- background writer ------------------------------------------------------------

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="trackflow-writer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            try:
                self.flush()
            except TrackflowError as exc:
                logger.warning("trackflow: background write failed, will retry: %s", exc)
            except Exception as exc:  # noqa: BLE001 - never kill the writer thread
                logger.warning("trackflow: background write failed, will retry: %r", exc)

    def _check_fork(self) -> None:
        if self._pid != os.getpid():
            # a forked child starts empty: the parent's queue is the parent's to write
            self._reset_state()


def flush_all_buffers() -> None:
    """Write every buffer of this process (run at interpreter exit)."""
    for buffer in list(_buffers):
        try:
            buffer.flush()
        except Exception as exc:  # noqa: BLE001 - report, keep flushing the others
            logger.error("trackflow: could not write %d queued values at exit: %s", buffer.pending, exc)


def _reset_after_fork() -> None:
    for buffer in list(_buffers):
        buffer._reset_state()


atexit.register(flush_all_buffers)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
