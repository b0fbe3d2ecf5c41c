"""Shared fixtures: a fresh tracking home per test, PostgreSQL schemas, one Prefect harness.

- ``tracking_home``: TRACKFLOW_HOME in a temp folder (embedded SQLite + local artifacts).
- ``store_uri``: parametrized over SQLite and PostgreSQL; PostgreSQL needs
  TRACKFLOW_TEST_DATABASE_URL (CI sets it; without it the test skips, or fails when
  CI=true) and each test gets its own schema.
- ``client``: a Client on ``store_uri`` with a temp artifact root.
- ``prefect_harness``: one session-wide ``prefect_test_harness`` (the ephemeral server is
  slow to start on 2 cores), used by the Prefect test packages through autouse fixtures.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_gate import unavailable

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="trackflow-prefect-home-"))
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
# The skops trusted-type cache (trackflow/registry/trusted_types.py) goes to a temp folder, not ~/.cache;
# XDG_CACHE_HOME covers subprocesses started without TRACKFLOW_* variables.
_CACHE_DIR = tempfile.mkdtemp(prefix="trackflow-cache-")
os.environ.setdefault("TRACKFLOW_CACHE_DIR", _CACHE_DIR)
os.environ.setdefault("XDG_CACHE_HOME", _CACHE_DIR)

PG_ENV = "TRACKFLOW_TEST_DATABASE_URL"


def pg_base_url() -> str | None:
    """The PostgreSQL URL of the test database, or None when not configured."""
    return os.environ.get(PG_ENV) or None


def make_pg_schema_url() -> tuple[str, str]:
    """Create an empty schema; return (url that uses it, schema name)."""
    import sqlalchemy as sa

    base = pg_base_url()
    assert base is not None
    schema = f"tf_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-csearch_path%3D{schema}", schema


def drop_pg_schema(schema: str) -> None:
    """Drop a schema made by make_pg_schema_url."""
    import sqlalchemy as sa

    base = pg_base_url()
    assert base is not None
    engine = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture
def tracking_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """TRACKFLOW_HOME in a temp folder, with no tracking URI or artifact root override."""
    from trackflow.tracking.stores import close_stores

    home = tmp_path / "trackflow-home"
    monkeypatch.setenv("TRACKFLOW_HOME", str(home))
    monkeypatch.delenv("TRACKFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("TRACKFLOW_ARTIFACT_ROOT", raising=False)
    yield home
    close_stores()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_uri(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh, empty tracking database: a SQLite file, or a new PostgreSQL schema."""
    from trackflow.tracking.stores import close_stores

    monkeypatch.setenv("TRACKFLOW_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TRACKFLOW_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    if request.param == "sqlite":
        uri = f"sqlite:///{tmp_path / 'trackflow.db'}"
        monkeypatch.setenv("TRACKFLOW_TRACKING_URI", uri)
        yield uri
        close_stores()
        return
    if pg_base_url() is None:
        unavailable(f"PostgreSQL contract tests need {PG_ENV} (CI sets it)")
    uri, schema = make_pg_schema_url()
    monkeypatch.setenv("TRACKFLOW_TRACKING_URI", uri)
    try:
        yield uri
    finally:
        close_stores()
        drop_pg_schema(schema)


@pytest.fixture
def client(store_uri: str):  # type: ignore[no-untyped-def]
    """A Client on the parametrized store."""
    from trackflow.tracking.client import Client

    return Client()


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One ephemeral Prefect API for the whole session, with a generous startup timeout."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield
