"""Dialect-aware SQL helpers shared by the store modules (upserts, chunking)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

__all__ = ["dialect_insert", "insert_ignore", "chunks", "MAX_BOUND_ROWS"]

T = TypeVar("T")
MAX_BOUND_ROWS = 500  # keeps IN lists and VALUES well below every driver's parameter limit


def dialect_insert(session: Session, table: Table | Any) -> Any:
    """An INSERT that supports ``on_conflict_*`` for the session's dialect."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"trackflow supports SQLite and PostgreSQL, not {name}")


def insert_ignore(session: Session, table: Any, rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> None:
    """Insert rows, silently keeping existing rows with the same ``keys``."""
    if not rows:
        return
    statement: Insert = dialect_insert(session, table).on_conflict_do_nothing(index_elements=list(keys))
    session.execute(statement, list(rows))


def chunks(items: Sequence[T], size: int = MAX_BOUND_ROWS) -> Iterator[Sequence[T]]:
    """Split ``items`` into slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
