"""The spool: writes that could not reach the tracking database, kept on local disk.

When the tracking database stays unreachable for the retry window (see
:mod:`trackflow.tracking.outage`), what a tracked flow or task would have written is
appended to ``$TRACKFLOW_HOME/spool/`` instead, and ``trackflow sync`` (or the next start
of trackflow in that home) writes it into the database it was meant for
(:mod:`trackflow.tracking.replay`).

The format: one file per process (``<start ms>-<host>-<pid>-<random>.jsonl``), one JSON
object per line, each carrying ``uri`` (the tracking URI it is for) and ``op`` (``batch``,
``run``, ``update``, ``dataset`` or ``edges``). A record counts as written only once its
line is complete (ends with a newline) and fsync'd; a torn last line (a process killed
while appending) is ignored. Appending and rewriting a file take an exclusive ``flock`` on
it and the appender re-checks, under the lock, that the path still names the file it
opened, so a replayer may remove or shorten a file while its process still runs.
Files are created ``0600`` (a URI may hold a password). POSIX only (``fcntl``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "SPOOL_DIR",
    "Spool",
    "SpoolFile",
    "describe",
    "file_lock",
    "hide_password",
    "pending_files",
    "read_spool_file",
    "spool_for",
    "warn_spooled",
]

logger = logging.getLogger("trackflow")

SPOOL_DIR = "spool"
SUFFIX = ".jsonl"
FORMAT_VERSION = 1


def hide_password(uri: str) -> str:
    """``uri`` with its password replaced by ``***`` (for messages)."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", uri)


def _dumps(record: dict[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":"), default=str).encode("utf-8") + b"\n"


@contextlib.contextmanager
def file_lock(path: Path, *, blocking: bool = True, create: bool = False) -> Iterator[int | None]:
    """An exclusive ``flock`` on ``path``: yields its descriptor, or None when it is busy
    (``blocking=False``) or missing (``create=False``)."""
    flags = os.O_RDWR | (os.O_CREAT if create else 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileNotFoundError:
        yield None
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield None
            return
        yield fd
    finally:
        os.close(fd)  # releases the lock


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


class Spool:
    """This process's spool file in one spool folder (thread-safe; one per process and folder)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.pid = os.getpid()
        name = f"{time.time_ns() // 1_000_000}-{socket.gethostname()[:40]}-{self.pid}-{uuid.uuid4().hex[:8]}"
        self.path = directory / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}{SUFFIX}"
        self._lock = threading.Lock()
        self._appended: set[str] = set()

    def append(self, records: list[dict[str, Any]]) -> Path:
        """Append ``records`` (each with its ``uri`` and ``op``) durably; returns the file.

        Raises OSError when the disk refuses (the caller keeps the values).
        """
        data = b"".join(_dumps({"v": FORMAT_VERSION, "at": time.time_ns() // 1_000_000, **r}) for r in records)
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            while True:
                fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    if not _same_file(fd, self.path):
                        continue  # a replayer replaced or removed it meanwhile: open the new one
                    size = os.fstat(fd).st_size
                    prefix = b"\n" if size and os.pread(fd, 1, size - 1) != b"\n" else b""
                    view = memoryview(prefix + data)
                    while view:
                        view = view[os.write(fd, view) :]
                    os.fsync(fd)
                    break
                finally:
                    os.close(fd)
            if size == 0:
                _fsync_directory(self.directory)
            self._appended.update(str(r["uri"]) for r in records)
        return self.path

    def has_pending(self, uri: str) -> bool:
        """True when this process spooled records for ``uri`` that may not be replayed yet."""
        if uri not in self._appended:
            return False
        if not self.path.exists():
            self._appended.clear()  # replayed (and removed) by a sync
            return False
        return True

    def replayed(self, done: set[str] | None = None) -> None:
        """What this process spooled (for the URIs ``done``; all when None) is stored."""
        with self._lock:
            if done is None:
                self._appended.clear()
            else:
                self._appended -= done


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


_spools: dict[Path, Spool] = {}
_spools_lock = threading.Lock()


def spool_for(home: Path) -> Spool:
    """This process's spool in ``$TRACKFLOW_HOME/spool`` (a forked child gets its own file)."""
    directory = Path(home) / SPOOL_DIR
    with _spools_lock:
        spool = _spools.get(directory)
        if spool is None or spool.pid != os.getpid():
            spool = _spools[directory] = Spool(directory)
        return spool


def pending_files(directory: Path) -> list[Path]:
    """The spool files in ``directory``, oldest first ([] without a folder: one ``scandir``)."""
    try:
        with os.scandir(directory) as entries:
            names = [e.name for e in entries if e.name.endswith(SUFFIX) and not e.name.startswith(".")]
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [directory / name for name in sorted(names, key=lambda n: (int(n.split("-", 1)[0]) if n.split("-", 1)[0].isdigit() else 0, n))]


@dataclass
class SpoolFile:
    """The complete records of a spool file as read, and how many bytes they span."""

    path: Path
    records: list[dict[str, Any]]
    size: int
    """Bytes up to the end of the last complete line (what a replay may remove)."""
    skipped: int = 0
    """Complete lines that were not valid records (logged, never replayed)."""


def read_spool_file(path: Path, fd: int | None = None) -> SpoolFile:
    """The complete records of ``path`` (read through ``fd`` when given); a torn last line is ignored."""
    if fd is None:
        data = path.read_bytes()
    else:
        size = os.fstat(fd).st_size
        data = os.pread(fd, size, 0) if size else b""
    end = data.rfind(b"\n") + 1
    records: list[dict[str, Any]] = []
    skipped = 0
    for line in data[:end].splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict) or not isinstance(record.get("uri"), str) or "op" not in record:
            skipped += 1
            continue
        records.append(record)
    if skipped:
        logger.warning("trackflow: %d damaged line(s) in spool file %s are ignored", skipped, path)
    return SpoolFile(path=path, records=records, size=end, skipped=skipped)


def describe(records: list[dict[str, Any]]) -> str:
    """What ``records`` hold, in words (``2 run(s), 120 metric value(s) ...``)."""
    counts: dict[str, int] = {}

    def add(name: str, n: int) -> None:
        if n:
            counts[name] = counts.get(name, 0) + n

    for record in records:
        op = record.get("op")
        if op == "batch":
            add("run(s)", len(record.get("runs", [])))
            add("param(s)", sum(len(v) for v in record.get("params", {}).values()))
            add("tag(s)", sum(len(v) for v in record.get("tags", {}).values()))
            add("metric value(s)", len(record.get("metrics", [])))
            add("run update(s)", len(record.get("updates", {})))
        elif op == "run":
            add("run(s)", 1)
        elif op == "update":
            add("run update(s)", 1)
        elif op == "dataset":
            add("dataset(s)", 1)
        elif op == "edges":
            add("lineage edge(s)", len(record.get("edges", [])))
    return ", ".join(f"{n} {name}" for name, n in counts.items()) or "nothing"


def warn_spooled(
    uri: str, elapsed: float, records: list[dict[str, Any]], path: Path, cause: BaseException | None, *, first: bool = True
) -> None:
    """Log a spooling: what went where and how it gets written; a WARNING for the first of
    an outage (``first``), the later ones at INFO."""
    logger.log(
        logging.WARNING if first else logging.INFO,
        "trackflow: the tracking database %s has been unavailable for %.0f s%s; spooled %s to %s%s. "
        "Run `trackflow sync` (or start trackflow again with TRACKFLOW_HOME=%s) to write them once it is back.",
        hide_password(uri), elapsed, f" ({cause})" if cause else "", describe(records), path,
        " (further writes during this outage go there too)" if first else "", path.parent.parent,
    )  # fmt: skip
