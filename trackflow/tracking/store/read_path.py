"""A read path for the command line's listings: plain DB-API, no SQLAlchemy on SQLite.

``trackflow runs list`` and ``trackflow models list`` are what a user runs most, and
importing SQLAlchemy (engine, SQL compiler, ORM) costs more than the rest of such a
command. For the default listing (no ``--filter`` / ``--order-by``) they read through a
:class:`ReadPath` instead: a few fixed SQL statements over a DB-API connection, which
returns the same entities as the store (rows are turned into runs by
:mod:`trackflow.tracking.store.rows`, as the store does).

:func:`open_read_path` opens it only when it can answer exactly as the store would; it
returns None otherwise and the command takes the full path (the ``Client``):

- the database is a SQLite file that exists (``sqlite3`` from the standard library) or any
  other URL (a DB-API connection of the tracking engine, e.g. psycopg for PostgreSQL);
- its schema is at the code's newest revision: one ``SELECT`` on ``alembic_version``
  against the newest migration file, no alembic import (a database to create or upgrade
  is the full path's job, with its messages);
- nothing is waiting in ``$TRACKFLOW_HOME/spool`` (replaying it is the full path's job).

Reads run in one transaction, so a listing is one consistent snapshot.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from trackflow.tracking.entities import Run
from trackflow.tracking.store.rows import RUN_COLUMNS, metric_value, to_run

__all__ = ["ReadPath", "open_read_path", "schema_head", "sqlite_path"]

_VERSIONS_DIR = Path(__file__).resolve().parents[2] / "migrations" / "versions"
_REVISION_FILE = re.compile(r"^(\d{4})_\w+\.py$")
_SQLITE_URL = re.compile(r"^sqlite(\+pysqlite)?:///(?P<path>[^?]+)$")
_CHUNK = 500  # ids bound per statement (SQLite allows 999 by default on old builds)


@lru_cache(maxsize=1)
def schema_head() -> str:
    """The newest schema revision this code has: the highest ``NNNN_*.py`` migration file
    (a test checks it against alembic's head and ``migrate.SCHEMA_HEAD``)."""
    found = [m.group(1) for name in os.listdir(_VERSIONS_DIR) if (m := _REVISION_FILE.match(name))]
    return max(found)


def sqlite_path(uri: str) -> Path | None:
    """The file of a ``sqlite:///path`` URL; None for anything else (memory, URI filenames, options)."""
    match = _SQLITE_URL.match(uri)
    if match is None:
        return None
    path = match.group("path")
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return Path(path).expanduser()


class ReadPath:
    """Fixed read-only queries over one DB-API connection (``?`` placeholders are rewritten
    to ``%s`` for drivers with the ``format`` / ``pyformat`` style)."""

    def __init__(
        self, connection: Any, *, placeholder: str = "?", begin: str | None = "BEGIN",
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self._connection = connection
        self._placeholder = placeholder
        self._begin = begin
        self._on_close = on_close

    def close(self) -> None:
        """Close the connection (and dispose what opened it)."""
        try:
            self._connection.close()
        finally:
            if self._on_close is not None:
                self._on_close()

    def __enter__(self) -> ReadPath:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- plumbing -------------------------------------------------------------------

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one statement written with ``?`` placeholders."""
        if self._placeholder != "?":
            sql = sql.replace("?", self._placeholder)
        cursor = self._connection.cursor()
        try:
            cursor.execute(sql, tuple(params))
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            cursor.close()

    @contextmanager
    def snapshot(self) -> Iterator[ReadPath]:
        """One read transaction: every statement inside sees the same database state."""
        self._connection.rollback()
        if self._begin:  # sqlite3 in autocommit mode: BEGIN; PostgreSQL: a repeatable-read snapshot
            cursor = self._connection.cursor()
            try:
                cursor.execute(self._begin)
            finally:
                cursor.close()
        try:
            yield self
        finally:
            self._connection.rollback()

    def revision(self) -> str | None:
        """The database's schema revision, None when it has none (or no version table)."""
        try:
            found = self.rows("SELECT version_num FROM alembic_version")
        except Exception:  # noqa: BLE001 - no table (a new database) or no such database: not ours to answer
            self._connection.rollback()
            return None
        return str(found[0][0]) if len(found) == 1 else None

    # ---- runs -----------------------------------------------------------------------

    def experiment_ids(self, names: Sequence[str]) -> list[str] | None:
        """The ids of the named experiments, in order; None when one of them does not exist."""
        marks = ", ".join("?" for _ in names)
        found = dict(self.rows(f"SELECT name, id FROM experiments WHERE name IN ({marks})", list(names)))
        if any(name not in found for name in names):
            return None
        return [str(found[name]) for name in names]

    def list_run_ids(
        self, *, experiment_ids: Sequence[str] | None, top_level: bool, deleted: bool | None, limit: int
    ) -> list[str]:
        """Run ids newest first (then by id), as the store's search orders them without ``order_by``;
        ``experiment_ids=[]`` matches nothing, as in the store."""
        if experiment_ids is not None and not experiment_ids:
            return []
        where: list[str] = []
        params: list[Any] = []
        if experiment_ids is not None:
            where.append(f"r.experiment_id IN ({', '.join('?' for _ in experiment_ids)})")
            params.extend(experiment_ids)
        if top_level:
            where.append("r.parent_run_id IS NULL")
        if deleted is not None:
            negation = "" if deleted else "NOT "
            where.append(f"{negation}EXISTS (SELECT 1 FROM run_deletions d WHERE d.run_id = r.id)")
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        sql = f"SELECT r.id FROM runs r{clause} ORDER BY r.start_time DESC, r.id ASC LIMIT ?"
        return [str(row[0]) for row in self.rows(sql, [*params, int(limit)])]

    def read_runs(self, run_ids: Sequence[str]) -> list[Run]:
        """The runs with these ids (in this order; missing ids are left out), with their
        params, latest metrics and tags."""
        wanted = list(dict.fromkeys(run_ids))
        found: dict[str, tuple[Any, str]] = {}
        params: dict[str, dict[str, str]] = defaultdict(dict)
        metrics: dict[str, dict[str, float]] = defaultdict(dict)
        tags: dict[str, dict[str, str]] = defaultdict(dict)
        columns = ", ".join(f'r."{c}"' for c in RUN_COLUMNS)
        for start in range(0, len(wanted), _CHUNK):
            part = wanted[start : start + _CHUNK]
            marks = ", ".join("?" for _ in part)
            sql = f"SELECT {columns}, e.name FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE r.id IN ({marks})"
            for row in self.rows(sql, part):
                found[row[0]] = (SimpleNamespace(**dict(zip(RUN_COLUMNS, row, strict=False))), row[-1])
            for run_id, key, value in self.rows(f"SELECT run_id, key, value FROM params WHERE run_id IN ({marks})", part):
                params[run_id][key] = value
            sql = f"SELECT run_id, key, value, is_nan FROM latest_metrics WHERE run_id IN ({marks})"
            for run_id, key, value, is_nan in self.rows(sql, part):
                metrics[run_id][key] = metric_value(value, is_nan)
            for run_id, key, value in self.rows(f"SELECT run_id, key, value FROM tags WHERE run_id IN ({marks})", part):
                tags[run_id][key] = value
        return [
            to_run(
                found[run_id][0],
                experiment_name=found[run_id][1],
                params=dict(sorted(params[run_id].items())),
                metrics=dict(sorted(metrics[run_id].items())),
                tags=dict(sorted(tags[run_id].items())),
            )
            for run_id in run_ids
            if run_id in found
        ]

    def list_runs(
        self, experiments: Sequence[str] | None, *, top_level: bool, deleted: bool | None, limit: int
    ) -> list[Run] | None:
        """Runs as ``trackflow runs list`` shows them without a filter or an order; None when an
        experiment name does not exist (the full path reports it, with "did you mean")."""
        with self.snapshot():
            ids = self.experiment_ids(experiments) if experiments else None
            if experiments and ids is None:
                return None
            run_ids = self.list_run_ids(experiment_ids=ids, top_level=top_level, deleted=deleted, limit=limit)
            return self.read_runs(run_ids)


def open_read_path(uri: str, *, home: Path, busy_timeout: float = 60.0) -> ReadPath | None:
    """A read path on the database at ``uri`` when it can answer as the store would, else None
    (see the module's docstring)."""
    from trackflow.tracking.spool import SPOOL_DIR, pending_files

    if pending_files(Path(home) / SPOOL_DIR):
        return None
    reader = _open_sqlite(uri, busy_timeout) if uri.startswith("sqlite") else _open_engine(uri, busy_timeout)
    if reader is None:
        return None
    if reader.revision() != schema_head():
        reader.close()
        return None
    return reader


def _open_sqlite(uri: str, busy_timeout: float) -> ReadPath | None:
    path = sqlite_path(uri)
    if path is None or not path.is_file():
        return None  # a new database is created (and migrated) by the full path
    import sqlite3

    connection = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA query_only = ON")
    return ReadPath(connection)


def _open_engine(uri: str, busy_timeout: float) -> ReadPath | None:
    """A read path on a DB-API connection of the tracking engine (PostgreSQL and the rest);
    None when the database cannot be reached (the full path reports it, with its hint)."""
    from trackflow.tracking.store.db import create_tracking_engine

    engine = create_tracking_engine(uri, busy_timeout=busy_timeout)  # a bad URL: the same error as the full path
    style = engine.dialect.paramstyle
    if style not in ("qmark", "format", "pyformat"):  # no supported driver uses another
        engine.dispose()
        return None
    placeholder = "%s" if style in ("format", "pyformat") else "?"
    try:
        connection = engine.raw_connection()
    except Exception:  # noqa: BLE001 - unreachable, refused, bad credentials: the full path reports it
        engine.dispose()
        return None
    begin = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY" if engine.dialect.name == "postgresql" else None
    return ReadPath(connection, placeholder=placeholder, begin=begin, on_close=engine.dispose)
