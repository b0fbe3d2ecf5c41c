"""Replaying the spool: writing spooled records into the databases they were meant for.

Used by ``trackflow sync``, by every process's first use of a store (in a background
thread, when the home has spool files: one ``scandir`` otherwise), and by a flush of a
process that spooled values itself (its own file first, so values never reach the database
before their runs).

Replaying is idempotent, so a record replayed twice (a sync killed after writing it,
before removing its file) adds nothing: runs are inserted unless they exist (runs of
Prefect task or flow runs through the store's find-or-create on their Prefect id, which
also maps a spooled run onto the run another execution made), metric rows are unique on
their natural key, params are write-once, tags, run updates, datasets and lineage edges
are upserts. Files are replayed oldest first, each record in its own transaction; a record
the database rejects (e.g. values of a run whose creation is in a later file) is tried
again after the others, then written as a flush writes (only the offending values are
dropped, and logged). A file is removed only when every record of it is stored; records a
live process appends meanwhile are kept. One replay at a time per home (a lock file,
``spool/.lock``): a second ``trackflow sync`` waits, a background replay skips.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trackflow.exceptions import StoreError, TrackflowError
from trackflow.tracking.batch import Batch, batch_from_record
from trackflow.tracking.buffer import write_batch
from trackflow.tracking.entities import RunStatus
from trackflow.tracking.spool import (
    SPOOL_DIR,
    Spool,
    SpoolFile,
    describe,
    file_lock,
    hide_password,
    pending_files,
    read_spool_file,
)
from trackflow.tracking.store.base import TrackingStore

__all__ = ["FileResult", "Opener", "drain_own", "start_background", "sync"]

logger = logging.getLogger("trackflow")

Opener = Callable[[str], TrackingStore]
"""Opens the store of a tracking URI (``open_store(uri, settings).store``)."""

_FINAL_FIELDS = ("status", "end_time", "error", "attempts")


@dataclass
class FileResult:
    """What replaying one spool file did."""

    path: Path
    records: int
    stored: int = 0
    dropped: int = 0
    uris: set[str] = field(default_factory=set)
    content: str = ""
    error: str | None = None
    """Why the file was kept (a database still unavailable), None when it was replayed."""
    unavailable: set[str] = field(default_factory=set)
    """The URIs of its records that could not be written (their database is unavailable)."""
    removed: bool = False


@dataclass
class _Pending:
    file: int
    record: dict[str, Any]
    error: BaseException | None = None


def _alias(run_id: Any, aliases: dict[str, str]) -> Any:
    return aliases.get(run_id, run_id) if isinstance(run_id, str) else run_id


def _ref(ref: Any, aliases: dict[str, str]) -> Any:
    if isinstance(ref, str) and ref.startswith("run:"):
        return f"run:{_alias(ref[4:], aliases)}"
    return ref


def _remap(batch: Batch, aliases: dict[str, str]) -> None:
    if not aliases:
        return
    batch.params = {_alias(k, aliases): v for k, v in batch.params.items()}
    batch.tags = {_alias(k, aliases): v for k, v in batch.tags.items()}
    batch.updates = {_alias(k, aliases): v for k, v in batch.updates.items()}
    batch.metrics = [(_alias(m[0], aliases), *m[1:]) for m in batch.metrics]


def _create_runs(store: TrackingStore, rows: list[dict[str, Any]], aliases: dict[str, str]) -> None:
    """Insert the runs that do not exist yet; a spooled run whose Prefect run has another
    run already is mapped onto it (``aliases``); an ended one ends it."""
    with store.transaction() as tx:
        for row in rows:
            row = {**row, "parent_run_id": _alias(row.get("parent_run_id"), aliases)}
            prefect = row.get("task_run_id") is not None or (row.get("kind") == "flow" and row.get("flow_run_id"))
            if prefect and hasattr(tx, "create_prefect_run"):
                winner = str(tx.create_prefect_run(row))
            elif tx.read_runs([row["id"]]):
                winner = row["id"]
            else:
                tx.create_run(row)
                winner = row["id"]
            if winner != row["id"]:
                aliases[row["id"]] = winner
            if row.get("status") not in (None, RunStatus.RUNNING.value):
                tx.update_run(winner, {k: row[k] for k in _FINAL_FIELDS if k in row})


def _apply(record: dict[str, Any], store: TrackingStore, aliases: dict[str, str], *, last_chance: bool) -> None:
    """Write one record (``last_chance``: as a flush would, dropping what is rejected)."""
    op = record["op"]
    if op == "batch":
        batch = batch_from_record(record)
        if last_chance:
            for row in batch.runs.values():
                row["parent_run_id"] = _alias(row.get("parent_run_id"), aliases)
            _remap(batch, aliases)
            write_batch(store, batch)
            return
        _create_runs(store, list(batch.runs.values()), aliases)
        batch.runs = {}
        _remap(batch, aliases)
        write_batch(store, batch, split=False)  # a rejection: tried again after the other records
    elif op == "run":
        with store.transaction() as tx:
            experiment_id = tx.get_or_create_experiment(record["experiment"]).id
        _create_runs(store, [{**record["values"], "experiment_id": experiment_id}], aliases)
        run_id = _alias(record["values"]["id"], aliases)
        write_batch(store, Batch(params={run_id: dict(record.get("params") or {})}, tags={run_id: dict(record.get("tags") or {})}))
    elif op == "update":
        write_batch(store, Batch(updates={_alias(record["run_id"], aliases): dict(record["values"])}))
    elif op == "dataset":
        fp = record["fingerprint"]
        run = f"run:{_alias(record['run_id'], aliases)}"
        node = f"dataset:{fp['fingerprint']}"
        edge = {"source": node, "target": run, "relation": "input"} if record["role"] == "input" else {
            "source": run, "target": node, "relation": "output"}  # fmt: skip
        with store.transaction() as tx:
            tx.upsert_dataset(
                fingerprint=fp["fingerprint"], name=record["name"], kind=fp["kind"], schema=fp["schema"],
                num_rows=fp["num_rows"], num_columns=fp["num_columns"], profile=fp["profile"], source=fp["source"],
                size_bytes=fp["size_bytes"],
            )  # fmt: skip
            tx.create_edges([{**edge, "run_id": _alias(record["run_id"], aliases), "name": record["name"],
                              "created_at": record["at"]}])  # fmt: skip
    elif op == "edges":
        edges = [
            {**e, "source": _ref(e["source"], aliases), "target": _ref(e["target"], aliases), "run_id": _alias(e.get("run_id"), aliases)}
            for e in record.get("edges", [])
        ]
        with store.transaction() as tx:
            if record.get("nodes"):
                tx.create_nodes(record["nodes"])
            tx.create_edges(edges)
    else:
        raise TrackflowError(f"Unknown spool record {op!r} (written by a newer trackflow?)")


def _read(path: Path) -> SpoolFile | None:
    with file_lock(path) as fd:
        if fd is None:
            return None  # replayed and removed by another process meanwhile
        return read_spool_file(path, fd)


def _finish(path: Path, replayed: int) -> bool:
    """Remove the replayed part of ``path``: the file, or its first ``replayed`` bytes when a
    live process appended meanwhile (a torn last line of a dead one is dropped)."""
    with file_lock(path) as fd:
        if fd is None:
            return True
        size = os.fstat(fd).st_size
        tail = os.pread(fd, size - replayed, replayed) if size > replayed else b""
        end = tail.rfind(b"\n") + 1
        if not end:
            path.unlink()
            return True
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_bytes(tail[:end])
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        return False


def _replay(paths: list[Path], opener: Opener) -> list[FileResult]:
    """Replay ``paths`` (the caller holds the home's replay lock)."""
    files: list[SpoolFile] = []
    for path in paths:
        read = _read(path)
        if read is not None:
            files.append(read)
    results = [FileResult(path=f.path, records=len(f.records), content=describe(f.records)) for f in files]
    stores: dict[str, TrackingStore] = {}
    broken: dict[str, BaseException] = {}
    aliases: dict[str, dict[str, str]] = {}
    pending = [_Pending(i, r) for i, f in enumerate(files) for r in f.records]
    for attempt in range(3):  # in order; the rejected again after the others; then as a flush
        retry: list[_Pending] = []
        for item in pending:
            result = results[item.file]
            uri = item.record["uri"]
            result.uris.add(uri)
            if uri in broken:
                result.error = result.error or str(broken[uri])
                result.unavailable.add(uri)
                continue
            try:
                if uri not in stores:
                    stores[uri] = opener(uri)
                _apply(item.record, stores[uri], aliases.setdefault(uri, {}), last_chance=attempt == 2)
                result.stored += 1
            except StoreError as exc:
                broken[uri] = exc
                result.error = str(exc)
                result.unavailable.add(uri)
            except TrackflowError as exc:
                if uri not in stores:  # the URI itself is wrong (no driver, newer schema): keep
                    broken[uri] = exc
                    result.error = str(exc)
                    result.unavailable.add(uri)
                else:
                    retry.append(_Pending(item.file, item.record, exc))
            except Exception as exc:  # noqa: BLE001 - a rejected record: retried, then dropped
                retry.append(_Pending(item.file, item.record, exc))
        pending = retry
    for item in pending:
        results[item.file].dropped += 1
        logger.error(
            "trackflow: dropped spooled %s for %s from %s, the database rejects it: %s",
            describe([item.record]), hide_password(item.record["uri"]), files[item.file].path, item.error,
        )  # fmt: skip
    for spool_file, result in zip(files, results, strict=True):
        if result.error is None:
            result.removed = _finish(spool_file.path, spool_file.size)
    return results


def _lock_path(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    return directory / ".lock"


def sync(home: Path, opener: Opener, *, wait: bool = True, paths: list[Path] | None = None) -> list[FileResult] | None:
    """Replay every spool file of ``home`` (or only ``paths``), oldest first.

    Holds the home's replay lock: with ``wait`` a concurrent replay is waited for, without
    it None is returned at once. Files whose database is still unavailable are kept
    (``FileResult.error``).
    """
    directory = Path(home) / SPOOL_DIR
    if not pending_files(directory) and paths is None:
        return []
    with file_lock(_lock_path(directory), blocking=wait, create=True) as fd:
        if fd is None:
            return None
        return _replay(pending_files(directory) if paths is None else [p for p in paths if p.exists()], opener)


def drain_own(spool: Spool, opener: Opener, uri: str) -> None:
    """Replay this process's spool file before its buffer for ``uri`` writes anything newer.

    Raises StoreError when ``uri``'s database is still unavailable (values spooled for
    another database that is down do not hold this one up).
    """
    results = sync(spool.directory.parent, opener, paths=[spool.path]) or []
    unavailable = set().union(*(r.unavailable for r in results))
    spool.replayed(done=None if not unavailable else {u for r in results for u in r.uris} - unavailable)
    if uri in unavailable:
        raise StoreError(f"Values spooled for {hide_password(uri)} are not written yet: the database is still unavailable.")


_started: set[tuple[str, int]] = set()
_started_lock = threading.Lock()


def start_background(home: Path, opener: Opener) -> threading.Thread | None:
    """On the first store use of this process in ``home``: replay pending spool files in a
    daemon thread (returned), unless there are none or another replay runs."""
    key = (str(home), os.getpid())
    with _started_lock:
        if key in _started:
            return None
        _started.add(key)
    if not pending_files(Path(home) / SPOOL_DIR):
        return None

    def run() -> None:
        try:
            results = sync(home, opener, wait=False)
        except Exception as exc:  # noqa: BLE001 - a background replay never disturbs the process
            logger.warning("trackflow: could not replay the spool of %s: %s", home, exc)
            return
        for result in results or []:
            if result.error is None:
                logger.info("trackflow: replayed %s from spool file %s", result.content, result.path)
            else:
                logger.info("trackflow: spool file %s kept, its database is unavailable: %s", result.path, result.error)

    thread = threading.Thread(target=run, name="trackflow-spool-replay", daemon=True)
    thread.start()
    return thread
