"""The write buffer: params, metrics and tags logged one at a time, written in batches.

``log_metric`` must not cost a database round trip per call. Values are queued in memory
and written in one transaction when the run ends, when the queue reaches
``flush_size`` values, every ``flush_interval`` seconds (a background thread), before any
read through the Client, and at interpreter exit. Param conflicts are checked at call time
against what this process knows of the run (loaded from the store once per run).

A write that fails because the database is unavailable (``StoreError``: unreachable,
locked) puts the values back in the queue, so nothing is lost, and the background writer
tries again. Once the database has been unreachable for the retry window
(``TRACKFLOW_STORE_RETRY_SECONDS``, see :mod:`trackflow.tracking.outage`), and always at
interpreter exit while it still is, the queued values go to this process's spool file
(:mod:`trackflow.tracking.spool`), with a WARNING for the first spooling of an outage;
``trackflow sync`` writes them later.
While this process has spooled values that are not written yet, a flush first replays its
own spool file (``drain``), so the database never receives values before the runs they
belong to. A write that fails because
the database rejects a value (any other error: a value out of range, a run deleted in the
meantime) is split: runs are written first, then the values in halves, until only the
offending records are left; those are dropped and logged (run, key and reason) and every
other value is stored. One bad record never blocks the queue.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from trackflow.exceptions import ConflictError, StoreError, TrackflowError
from trackflow.tracking.batch import Batch, Item, batch_of, batch_record, describe_item, items_of, run_of
from trackflow.tracking.outage import Outage
from trackflow.tracking.spool import Spool, hide_password, spool_for, warn_spooled
from trackflow.tracking.store.base import MetricRecord, TrackingStore
from trackflow.tracking.validation import param_conflict_error

__all__ = ["WriteBuffer", "flush_all_buffers", "write_batch"]

logger = logging.getLogger("trackflow")
_buffers: weakref.WeakSet[WriteBuffer] = weakref.WeakSet()


def write_batch(store: TrackingStore, batch: Batch, *, split: bool = True) -> None:
    """Write ``batch`` now, outside any queue, in one transaction.

    With ``split`` (as a flush writes) a rejected record is split out, dropped and logged
    and the rest is stored; without it a rejection raises and nothing is written. Raises
    StoreError when the database is unavailable (part of it may be written when split:
    writing it again adds nothing)."""
    writer = WriteBuffer(store)
    if not split:
        writer._write_transaction(batch)
        return
    try:
        writer._write(batch)
    except _Unfinished as exc:
        raise exc.cause from exc.cause.__cause__


def _reason(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, TrackflowError) else f"{type(exc).__name__}: {exc}"


class _Unfinished(Exception):
    """A split write stopped by an unavailable database: ``remaining`` is not written yet."""

    def __init__(self, remaining: Batch, cause: StoreError) -> None:
        super().__init__(str(cause))
        self.remaining = remaining
        self.cause = cause


class WriteBuffer:
    """A per-store queue of pending writes, flushed in batches.

    Thread safety: ``_lock`` guards every field below ``_reset_state``'s locks: the queue,
    the batch being written, what is known of runs and params, and the writer thread.
    ``_idle`` (a condition on the same lock) lets one flush wait for another to finish, so
    batches are written one at a time and in order; ``_wake`` (an Event, thread-safe
    itself) wakes the writer early. ``_pid`` is only written at construction and in a
    forked child (one thread at that point); it is read without the lock.
    """

    def __init__(
        self,
        store: TrackingStore,
        *,
        flush_size: int = 5000,
        flush_interval: float = 2.0,
        uri: str | None = None,
        spool: Spool | None = None,
        outage: Outage | None = None,
        drain: Callable[[], None] | None = None,
    ) -> None:
        """``spool`` (with ``uri`` and ``outage``) makes failed writes survive an outage;
        ``drain`` replays this process's spool file (wired by :mod:`trackflow.tracking.stores`)."""
        self.store = store
        self.flush_size = flush_size
        self.flush_interval = flush_interval
        self.uri = uri or ""
        self.spool = spool
        self.outage = outage if outage is not None else Outage(0.0)
        self.drain = drain
        self._reset_state()
        _buffers.add(self)

    def _reset_state(self) -> None:
        if self.spool is not None and self.spool.pid != os.getpid():
            self.spool = spool_for(self.spool.directory.parent)  # a forked child spools to its own file
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._pid = os.getpid()
        # guarded by _lock:
        self._queue = Batch()
        self._writing: Batch | None = None
        """The batch a flush is writing (its runs are not stored yet)."""
        self._known_params: dict[str, dict[str, str]] = {}
        self._known_runs: set[str] = set()
        self._thread: threading.Thread | None = None
        self._last_failure = 0.0
        """When a back-pressure flush last failed (monotonic): they are tried at most twice a second."""

    # ---- queueing -------------------------------------------------------------------

    def add_metrics(self, records: list[MetricRecord]) -> None:
        """Queue metric values (validated by the caller)."""
        self._check_fork()
        with self._lock:
            self._queue.metrics.extend(records)
            pending = len(self._queue.metrics)
            self._ensure_thread()
        self._after_queued(pending)

    def add_metric(self, record: MetricRecord) -> None:
        """Queue one metric value; the hot path of ``log_metric``."""
        if self._pid != os.getpid():
            self._check_fork()
        with self._lock:
            self._queue.metrics.append(record)
            pending = len(self._queue.metrics)
            if self._thread is None:
                self._ensure_thread()
        if pending >= self.flush_size:
            self._after_queued(pending)

    def _after_queued(self, pending: int) -> None:
        """Wake the writer at ``flush_size`` queued values; write here at 10x (back-pressure).

        The back-pressure write never raises for an unavailable database: the values stay
        queued (or go to the spool once the retry window is over).
        """
        if pending >= self.flush_size * 10:
            if self.outage.failing and time.monotonic() - self._last_failure < 0.5:
                return
            try:
                self.flush()  # the writer thread is not keeping up
            except StoreError as exc:
                self._last_failure = time.monotonic()
                self.write_failed(exc)
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
        if self._pid != os.getpid():
            self._check_fork()
        if params and not self._knows_params(run_id):
            with self.store.transaction(write=False) as tx:
                stored = tx.read_params(run_id)
            with self._lock:
                self._known_params.setdefault(run_id, {}).update(stored)
        with self._lock:
            if params:
                self._queue_params(run_id, params)
            if tags:
                self._queue.tags.setdefault(run_id, {}).update(tags)
            if metrics:
                self._queue.metrics.extend(metrics)
            pending = len(self._queue.metrics)
            if self._thread is None:
                self._ensure_thread()
        if pending >= self.flush_size:
            self._after_queued(pending)

    def _knows_params(self, run_id: str) -> bool:
        with self._lock:
            return run_id in self._known_params

    def _queue_params(self, run_id: str, params: Mapping[str, str]) -> None:
        """Queue the params new to the run; ConflictError for a changed value (lock held)."""
        known = self._known_params[run_id]
        conflicts = [(k, known[k], v) for k, v in params.items() if k in known and known[k] != v]
        if conflicts:
            raise param_conflict_error(run_id, conflicts)
        new = {k: v for k, v in params.items() if k not in known}
        known.update(new)
        if new:
            self._queue.params.setdefault(run_id, {}).update(new)

    def add_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        """Queue tags (last value wins)."""
        self._check_fork()
        with self._lock:
            self._queue.tags.setdefault(run_id, {}).update(tags)
            self._ensure_thread()

    def add_run(self, values: Mapping[str, Any]) -> None:
        """Queue the creation of a run (validated by the Client); written before its data."""
        self._check_fork()
        with self._lock:
            self._queue.runs[values["id"]] = dict(values)
            self._ensure_thread()
        self.mark_new_run(values["id"])

    def ensure_written(self, run_id: str) -> None:
        """Flush first when ``run_id`` is still queued (before a direct write that needs its row)."""
        with self._lock:
            unwritten = run_id in self._queue.runs or (self._writing is not None and run_id in self._writing.runs)
        if unwritten:
            self.flush()

    def add_run_update(self, run_id: str, values: Mapping[str, Any]) -> None:
        """Queue changes to a run's attributes (status, end time ...); written after its data."""
        self._check_fork()
        with self._lock:
            self._queue.updates.setdefault(run_id, {}).update(values)
            self._ensure_thread()

    def mark_new_run(self, run_id: str) -> None:
        """A run created by this process has no params yet: skip the read on first log.

        The writer thread starts here, with the run, rather than on its first logged value
        (starting a thread waits for the OS to schedule it: milliseconds on a busy machine).
        """
        self._check_fork()
        with self._lock:
            self._known_params.setdefault(run_id, {})
            self._known_runs.add(run_id)
            if self._thread is None:
                self._ensure_thread()

    def is_known_run(self, run_id: str) -> bool:
        """True when this process has seen ``run_id`` exist (checked once per run)."""
        with self._lock:
            return run_id in self._known_runs

    def remember_run(self, run_id: str) -> None:
        """Record that ``run_id`` exists in the store."""
        with self._lock:
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
            return self._queue.size

    # ---- writing --------------------------------------------------------------------

    def has_spooled(self) -> bool:
        """True when this process spooled values for this database that are not written yet."""
        return self.spool is not None and self.spool.has_pending(self.uri)

    def flush(self) -> None:
        """Write everything queued, in one transaction. Re-queues it if the write fails.

        One flush writes at a time: a second one waits for the first (so a run queued in
        the batch being written is stored when ``flush`` returns). When this process has
        spooled values for this database, its spool file is replayed first.
        """
        self._check_fork()
        with self._lock:
            while self._writing is not None:
                self._idle.wait()
            spooled = self.has_spooled()
            if self._queue.empty and not spooled:
                return
            batch, self._queue = self._queue, Batch()
            self._writing = batch
        unwritten: Batch | None = batch
        try:
            if spooled and self.drain is not None:
                self.drain()  # StoreError: the database is still unavailable, nothing written
            if not batch.empty:
                self._write(batch)
            unwritten = None
            self.outage.succeeded()
        except _Unfinished as exc:
            unwritten = exc.remaining
            raise exc.cause from exc.cause.__cause__
        finally:
            with self._lock:
                if unwritten is not None:
                    self._queue.put_back(unwritten)
                self._writing = None
                self._idle.notify_all()

    def _write(self, batch: Batch) -> None:
        """Write ``batch`` in one transaction; split it when the database rejects a record.

        Raises StoreError (nothing written) or _Unfinished (part of it written).
        """
        for row in batch.runs.values():  # a run created and ended in one batch is inserted ended
            row.update(batch.updates.pop(row["id"], {}))
        try:
            self._write_transaction(batch)
        except StoreError:
            raise
        except Exception as exc:  # noqa: BLE001 - the database rejected a record: split
            logger.debug("trackflow: the database rejected a batch, writing it in parts: %r", exc)
            self._write_split(batch)

    def _write_split(self, batch: Batch) -> None:
        """Write the runs, then the other records in halves; drop (and log) what is rejected."""
        runs = list(batch.runs.values())
        created: list[str] = []
        pending: list[list[Item]] = [items_of(batch)]
        try:
            lost = self._write_runs(runs, created) if runs else set()
            if lost:
                kept = [item for item in pending[0] if run_of(item) not in lost]
                if len(kept) < len(pending[0]):
                    logger.error(
                        "trackflow: dropped %d value(s) of run(s) %s, which could not be stored",
                        len(pending[0]) - len(kept),
                        ", ".join(sorted(lost)),
                    )
                pending = [kept]
            by_run: dict[str, list[Item]] = {}
            for item in pending.pop():
                by_run.setdefault(run_of(item), []).append(item)
            pending = list(reversed(by_run.values()))  # one part per run, each in its order
            existing: set[str] = set()
            while pending:
                part = pending.pop()
                try:
                    self._write_transaction(batch_of(part))
                except StoreError:
                    pending.append(part)
                    raise
                except Exception as exc:  # noqa: BLE001 - rejected: split again, or drop
                    try:
                        gone = len(part) > 1 and self._run_is_gone(run_of(part[0]), existing)
                    except StoreError:
                        pending.append(part)
                        raise
                    if len(part) == 1:
                        self._drop(part[0], exc)
                    elif gone:
                        self._drop_all(part, exc)
                    else:
                        middle = len(part) // 2
                        pending += [part[middle:], part[:middle]]  # the first half is written first
        except StoreError as exc:
            remaining = batch_of([item for part in pending for item in part])
            remaining.runs = {run_id: row for run_id, row in batch.runs.items() if run_id not in created}
            raise _Unfinished(remaining, exc) from exc

    def _write_runs(self, runs: list[dict[str, Any]], created: list[str]) -> set[str]:
        """Create the runs (one at a time when needed), listing them in ``created``; returns
        the ids of those the database rejects."""
        try:
            with self.store.batch_transaction() as tx:
                tx.create_runs(runs)
            created.extend(row["id"] for row in runs)
            return set()
        except StoreError:
            raise
        except Exception:  # noqa: BLE001 - find the rejected one(s)
            pass
        lost: set[str] = set()
        for row in runs:
            try:
                with self.store.batch_transaction() as tx:
                    tx.create_runs([row])
                created.append(row["id"])
            except StoreError:
                raise
            except Exception as exc:  # noqa: BLE001 - drop this run, keep the others
                lost.add(row["id"])
                logger.error("trackflow: dropped run %s, the database rejected it: %s", row["id"], _reason(exc))
        return lost

    def _run_is_gone(self, run_id: str, existing: set[str]) -> bool:
        """True when ``run_id`` is not in the store (deleted meanwhile): all its values go."""
        if run_id in existing:
            return False
        with self.store.transaction(write=False) as tx:
            found = bool(tx.read_runs([run_id]))
        if found:
            existing.add(run_id)
        return not found

    def _drop_all(self, items: list[Item], exc: BaseException) -> None:
        """Drop the values of a run that no longer exists, with one log line."""
        counts: dict[str, int] = {}
        for item in items:
            name = f"metric {item[1][1]!r}" if item[0] == "metric" else "update" if item[0] == "update" else f"{item[0]} {item[2]!r}"
            counts[name] = counts.get(name, 0) + 1
        described = ", ".join(f"{name} x{n}" if n > 1 else name for name, n in counts.items())
        logger.error(
            "trackflow: dropped %d value(s) of run %s (%s): the run is not in the database: %s",
            len(items),
            run_of(items[0]),
            described,
            _reason(exc),
        )

    def _drop(self, item: Item, exc: BaseException) -> None:
        logger.error("trackflow: dropped %s, the database rejected it: %s", describe_item(item), _reason(exc))
        if item[0] == "param":  # not stored: the same key may be logged again
            with self._lock:
                known = self._known_params.get(item[1])
                if known is not None and known.get(item[2]) == item[3]:
                    del known[item[2]]

    def _write_transaction(self, batch: Batch) -> None:
        rejected: list[str] = []
        runs = list(batch.runs.values())
        with self.store.batch_transaction() as tx:
            if runs:
                tx.create_runs(runs)
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
        """Start the writer thread unless it runs (called with the lock held)."""
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
            except StoreError as exc:
                self.write_failed(exc)
            except TrackflowError as exc:
                logger.warning("trackflow: background write failed, will retry: %s", exc)
            except Exception as exc:  # noqa: BLE001 - never kill the writer thread
                logger.warning("trackflow: background write failed, will retry: %r", exc)

    # ---- outages ------------------------------------------------------------------------

    def write_failed(self, exc: StoreError, *, final: bool = False) -> None:
        """A flush failed because the database is unavailable: keep the values queued within
        the retry window, spool them after it (or at once when ``final``: at exit)."""
        self.outage.failed()
        if self.spool is not None and (final or self.outage.expired):
            self.spool_pending(exc)
        elif not self.outage.warned:
            self.outage.warned = True
            then = (f" for up to {self.outage.window:.0f} s (TRACKFLOW_STORE_RETRY_SECONDS), then spooled"
                    if self.spool is not None else "")  # fmt: skip
            logger.warning(
                "trackflow: the tracking database %s is unavailable; queued values are kept and retried%s: %s",
                hide_password(self.uri), then, exc,
            )  # fmt: skip

    def spool_pending(self, cause: BaseException | None = None) -> int:
        """Move everything queued to this process's spool file; returns how many values.

        Without a spool (or when the disk refuses) the values stay queued and an error is logged.
        """
        self._check_fork()
        with self._lock:
            while self._writing is not None:
                self._idle.wait()
            if self._queue.empty:
                return 0
            batch, self._queue = self._queue, Batch()
            self._writing = batch  # no flush writes newer values before these are spooled
        size = batch.size
        record = batch_record(batch, self.uri)
        try:
            if self.spool is None:
                raise OSError("no spool folder")
            path = self.spool.append([record])
        except OSError as exc:
            with self._lock:
                self._queue.put_back(batch)
            logger.error("trackflow: could not spool %d queued value(s) (%s); they stay queued", size, exc)
            return 0
        finally:
            with self._lock:
                self._writing = None
                self._idle.notify_all()
        warn_spooled(self.uri, self.outage.elapsed, [record], path, cause, first=self.outage.first_spooling())
        return size

    def _check_fork(self) -> None:
        if self._pid != os.getpid():
            # a forked child starts empty: the parent's queue is the parent's to write
            self._reset_state()


def flush_all_buffers() -> None:
    """Write every buffer of this process (run at interpreter exit); spool what the
    database does not take because it is unavailable."""
    for buffer in list(_buffers):
        try:
            buffer.flush()
        except StoreError as exc:
            buffer.write_failed(exc, final=True)
            if buffer.pending:
                logger.error("trackflow: could not write %d queued values at exit: %s", buffer.pending, exc)
        except Exception as exc:  # noqa: BLE001 - report, keep flushing the others
            logger.error("trackflow: could not write %d queued values at exit: %s", buffer.pending, exc)


def _reset_after_fork() -> None:
    for buffer in list(_buffers):
        buffer._reset_state()


atexit.register(flush_all_buffers)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
