"""Schema migrations: fresh databases, idempotence, ORM parity, upgrades, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from trackflow.exceptions import SchemaVersionError
from trackflow.registry.store import orm as _registry_orm  # noqa: F401
from trackflow.tracking.store.db import create_tracking_engine
from trackflow.tracking.store.migrate import (
    SCHEMA_HEAD,
    ensure_schema,
    head_revision,
    stamp_for_tests,
    upgrade_schema,
)
from trackflow.tracking.store.orm import Base
from trackflow.tracking.store.sqlalchemy_store import SqlAlchemyStore


def _snapshot(uri: str) -> dict[str, list[str]]:
    engine = create_engine(uri)
    inspector = inspect(engine)
    shape = {t: sorted(c["name"] for c in inspector.get_columns(t)) for t in inspector.get_table_names()}
    engine.dispose()
    return shape


def test_fresh_database_is_migrated_and_second_init_changes_nothing(store_uri: str) -> None:
    SqlAlchemyStore(store_uri).dispose()
    first = _snapshot(store_uri)
    assert {"runs", "metrics", "latest_metrics", "model_versions", "alembic_version"} <= set(first)
    SqlAlchemyStore(store_uri).dispose()
    assert _snapshot(store_uri) == first
    engine = create_tracking_engine(store_uri)
    assert ensure_schema(engine).current == head_revision()
    engine.dispose()


def _outside_the_orm(name: str | None, type_: str, parent_names: object) -> bool:
    """Leave out what migrations add outside the ORM: 0007's SQLite FTS5 table ``notes_fts``
    (and its shadow tables) and PostgreSQL expression index ``ix_notes_text_fts``; 0008's
    SQLite-only ``(key, value)`` indexes on params and tags."""
    return not (name or "").startswith(("notes_fts", "ix_notes_text_fts", "ix_params_key_value", "ix_tags_key_value"))


def test_orm_and_migrations_do_not_differ(store_uri: str) -> None:
    store = SqlAlchemyStore(store_uri)
    with store.engine.connect() as conn:
        opts = {"compare_type": True, "include_name": _outside_the_orm}
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), Base.metadata)
    store.dispose()
    assert diff == []


def test_newer_unknown_revision_is_refused_and_nothing_written(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 't.db'}"
    SqlAlchemyStore(uri).dispose()
    engine = create_engine(uri)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    engine.dispose()
    before = (tmp_path / "t.db").read_bytes()
    with pytest.raises(SchemaVersionError, match="9999_from_the_future"):
        SqlAlchemyStore(uri)
    engine = create_tracking_engine(uri)
    with pytest.raises(SchemaVersionError):
        upgrade_schema(engine)
    engine.dispose()
    assert (tmp_path / "t.db").read_bytes() == before


def test_old_database_is_refused_until_upgraded_keeping_rows(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_tracking_engine(uri)
    stamp_for_tests(engine, "0001")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO experiments (id, name, created_at) VALUES ('e1', 'kept', 1)"))
        conn.execute(
            text(
                "INSERT INTO runs (id, experiment_id, name, status, kind, start_time, attempts) "
                "VALUES ('r1', 'e1', 'old-run', 'FINISHED', 'manual', 1, 1)"
            )
        )
    with pytest.raises(SchemaVersionError, match="'0001'") as refused:
        SqlAlchemyStore(uri)
    assert "trackflow db upgrade" in (refused.value.hint or "")
    before, after = upgrade_schema(engine)
    engine.dispose()
    assert (before, after) == ("0001", head_revision())
    store = SqlAlchemyStore(uri)
    with store.transaction(write=False) as tx:
        assert [r.name for r in tx.read_runs(["r1"])] == ["old-run"]
    store.dispose()
    assert "model_versions" in _snapshot(uri)


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'foreign.db'}"
    engine = create_engine(uri)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE customers (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    with pytest.raises(SchemaVersionError, match="no trackflow schema"):
        SqlAlchemyStore(uri)
    assert set(_snapshot(uri)) == {"customers"}


def test_fast_path_head_matches_alembic_head() -> None:
    assert SCHEMA_HEAD == head_revision()
