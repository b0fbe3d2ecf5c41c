"""Schema management through alembic: create, check, upgrade.

An empty database is migrated on first use; a database at an older revision is refused
until ``trackflow db upgrade``; a database at a revision this code does not know (made by
a newer trackflow) is refused without writing anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from alembic.config import Config

from trackflow.exceptions import SchemaVersionError
from trackflow.tracking.store.db import write_engine

__all__ = [
    "SchemaState",
    "alembic_config",
    "head_revision",
    "read_schema_state",
    "ensure_schema",
    "upgrade_schema",
    "stamp_for_tests",
    "SCHEMA_HEAD",
]

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
SCHEMA_HEAD = "0008"
"""The newest migration; a test checks it against alembic's head. Lets the common path
(a current database) skip importing alembic, which costs ~0.3 s of CLI start-up."""
_ADVISORY_LOCK_KEY = 0x7472_6B66  # "trkf"


@dataclass(frozen=True)
class SchemaState:
    """Where a database stands against the code's migrations."""

    current: str | None
    head: str
    known: bool
    has_tables: bool

    @property
    def is_current(self) -> bool:
        return self.current == self.head


def alembic_config() -> Config:
    """An alembic config pointing at trackflow's migrations (no ini file needed)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The newest migration this code knows (read from the migration scripts)."""
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    return heads[0]


def _state(connection: Connection) -> SchemaState:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    script = ScriptDirectory.from_config(alembic_config())
    current = MigrationContext.configure(connection).get_current_revision()
    known = True
    if current is not None:
        try:
            known = script.get_revision(current) is not None
        except CommandError:
            known = False
    tables = set(inspect(connection).get_table_names()) - {"alembic_version"}
    return SchemaState(current=current, head=script.get_heads()[0], known=known, has_tables=bool(tables))


def read_schema_state(engine: Engine) -> SchemaState:
    """Read the database's revision without changing anything."""
    with engine.connect() as connection:
        return _state(connection)


def _refuse_unknown(state: SchemaState, url: str) -> None:
    if not state.known:
        raise SchemaVersionError(
            f"The tracking database {url} is at schema revision {state.current!r}, which this "
            f"version of trackflow does not know (newest known: {state.head!r}).",
            hint="It was written by a newer trackflow: upgrade trackflow "
            "(pip install -U trackflow) or point TRACKFLOW_TRACKING_URI elsewhere.",
        )


def _lock(connection: Connection) -> None:
    """Serialize schema changes across processes (SQLite: BEGIN IMMEDIATE already does)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})


def ensure_schema(engine: Engine) -> SchemaState:
    """Make an empty database current; refuse one that is behind or ahead of the code.

    Safe when many processes open the same fresh database at once: the migration runs
    under a database lock and the state is re-read after taking it.
    """
    url = engine.url.render_as_string(hide_password=True)
    if _read_version_fast(engine) == SCHEMA_HEAD:
        return SchemaState(current=SCHEMA_HEAD, head=SCHEMA_HEAD, known=True, has_tables=True)
    state = read_schema_state(engine)
    if state.is_current:
        return state
    _refuse_unknown(state, url)
    if state.current is None and not state.has_tables:
        with write_engine(engine).begin() as connection:
            _lock(connection)
            state = _state(connection)
            _refuse_unknown(state, url)
            if state.current is None and not state.has_tables:
                _run_upgrade(connection)
                return _state(connection)
    if state.is_current:
        return state
    if state.current is None:
        raise SchemaVersionError(
            f"The database {url} has tables but no trackflow schema revision.",
            hint="Point TRACKFLOW_TRACKING_URI at an empty database or a trackflow one.",
        )
    raise SchemaVersionError(
        f"The tracking database {url} is at schema revision {state.current!r}; this "
        f"version of trackflow needs {state.head!r}.",
        hint="Run `trackflow db upgrade` to migrate it (rows are kept).",
    )


def _read_version_fast(engine: Engine) -> str | None:
    """The stored revision by one plain query (None if there is no version table)."""
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except DBAPIError:
        return None
    return rows[0] if len(rows) == 1 else None


def upgrade_schema(engine: Engine) -> tuple[str | None, str]:
    """Upgrade the database to the newest revision; return (before, after)."""
    url = engine.url.render_as_string(hide_password=True)
    with write_engine(engine).begin() as connection:
        _lock(connection)
        state = _state(connection)
        _refuse_unknown(state, url)
        if state.current is None and state.has_tables:
            raise SchemaVersionError(
                f"The database {url} has tables but no trackflow schema revision; "
                "refusing to migrate it.",
                hint="Point TRACKFLOW_TRACKING_URI at an empty database or a trackflow one.",
            )
        if not state.is_current:
            _run_upgrade(connection)
        return state.current, _state(connection).current or state.head


def _run_upgrade(connection: Connection, revision: str = "head") -> None:
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def stamp_for_tests(engine: Engine, revision: str) -> None:
    """Upgrade an empty database only up to ``revision`` (used by migration tests)."""
    with write_engine(engine).begin() as connection:
        _lock(connection)
        _run_upgrade(connection, revision)

