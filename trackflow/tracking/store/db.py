"""Engines for the tracking database: SQLite tuning, transactions, process safety.

SQLite runs in WAL mode (``synchronous = NORMAL``, a larger auto-checkpoint) with a busy
timeout; write transactions start with
``BEGIN IMMEDIATE`` so concurrent writers queue on the lock instead of failing on a
lock upgrade. Engines are cached per URL and per process, and disposed in forked
children (Dask and multiprocessing workers) so no connection crosses a fork.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from trackflow.exceptions import InvalidInputError, StoreError

__all__ = ["create_tracking_engine", "write_engine", "dispose_all_engines", "is_sqlite"]

_WRITE_OPTION = "trackflow_write"
_WAL_AUTOCHECKPOINT_PAGES = 10_000
"""Pages (4 KiB) the WAL may grow to before a commit copies it into the database file.

With ``synchronous = NORMAL`` a commit appends to the WAL without fsync (it survives the
process ending; SQLite's documented trade-off for WAL), and the checkpoint is where the
fsyncs are. SQLite's default (1,000 pages) checkpoints every ~80 short-run commits and
copies the same hot pages (the runs and latest-metrics indexes) each time; at 10,000
pages (a WAL of up to ~40 MB while the database is open, removed when the last
connection closes) a stream of small commits costs 30-60 % less.
"""


def is_sqlite(engine: Engine) -> bool:
    """True when the engine talks to SQLite."""
    return engine.dialect.name == "sqlite"


def create_tracking_engine(uri: str, *, busy_timeout: float = 60.0) -> Engine:
    """Create an engine for ``uri`` with trackflow's connection settings.

    Raises :class:`InvalidInputError` for a URL SQLAlchemy cannot parse or a driver that
    is not installed.
    """
    try:
        url = make_url(uri)
    except ArgumentError as exc:
        raise InvalidInputError(
            f"Invalid tracking URI {uri!r}: {exc}",
            hint="Use a SQLAlchemy URL such as sqlite:///path/trackflow.db or "
            "postgresql+psycopg://user@host/db.",
        ) from exc
    if url.get_backend_name() == "postgresql" and url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    kwargs: dict[str, Any] = {}
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": busy_timeout, "check_same_thread": False}
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(url, **kwargs)
    except (NoSuchModuleError, ModuleNotFoundError, ImportError) as exc:
        raise InvalidInputError(
            f"No database driver for tracking URI {url.render_as_string(hide_password=True)!r}: {exc}",
            hint="For PostgreSQL install the extra: pip install 'trackflow[postgres]'.",
        ) from exc
    if is_sqlite(engine):
        _tune_sqlite(engine, busy_timeout)
    _register_engine(engine)
    return engine


def write_engine(engine: Engine) -> Engine:
    """The same engine, marked so that SQLite transactions begin IMMEDIATE (for writes)."""
    return engine.execution_options(**{_WRITE_OPTION: True})


def _tune_sqlite(engine: Engine, busy_timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
        except Exception:  # noqa: BLE001 - in-memory databases have no WAL
            pass
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute(f"PRAGMA wal_autocheckpoint = {_WAL_AUTOCHECKPOINT_PAGES}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(_WRITE_OPTION, False)
        # straight to the driver: BEGIN returns no rows, and SQLAlchemy's statement
        # machinery (context, result) costs more than SQLite's BEGIN itself
        statement = "BEGIN IMMEDIATE" if immediate else "BEGIN"
        try:
            connection.connection.driver_connection.execute(statement)
        except Exception as exc:  # "database is locked" ...: an OperationalError as from any statement
            raise DBAPIError.instance(statement, None, exc, connection.dialect.loaded_dbapi.Error) from exc


_engines: list[Engine] = []
_engines_lock = threading.Lock()


def _register_engine(engine: Engine) -> None:
    with _engines_lock:
        _engines.append(engine)


def dispose_all_engines(*, close: bool = True) -> None:
    """Dispose every engine created in this process (``close=False`` after a fork)."""
    with _engines_lock:
        for engine in _engines:
            engine.dispose(close=close)


def _after_fork_in_child() -> None:
    global _engines_lock
    _engines_lock = threading.Lock()
    for engine in list(_engines):
        engine.dispose(close=False)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def describe_error(exc: BaseException) -> StoreError:
    """Wrap a low-level database error into a :class:`StoreError` with a hint."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return StoreError(
        f"The tracking database failed: {text}",
        hint="Check TRACKFLOW_TRACKING_URI and that the database is reachable.",
    )
