"""Dialect-aware SQL helpers shared by the store modules (cached upserts, chunking)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy.orm import Session

__all__ = ["dialect_insert", "insert_ignore", "upsert_statement", "chunks", "MAX_BOUND_ROWS"]

T = TypeVar("T")
MAX_BOUND_ROWS = 500  # keeps IN lists and VALUES well below every driver's parameter limit


def _dialect_module(session: Session) -> Any:
    name = session.get_bind().dialect.name
    if name not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"trackflow supports SQLite and PostgreSQL, not {name}")
    return name


def _insert_for(dialect: str) -> Any:
    """The dialect's INSERT with ON CONFLICT (imported on first use: the PostgreSQL
    dialect costs ~0.1 s of start-up for SQLite users)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def dialect_insert(session: Session, table: Any) -> Any:
    """An INSERT that supports ``on_conflict_*`` for the session's dialect."""
    return _insert_for(_dialect_module(session))(table)


def insert_ignore(session: Session, table: Any, rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> int:
    """Insert rows, silently keeping existing rows with the same ``keys``.

    Returns how many rows were inserted when the driver reports it (SQLite does), else -1.
    """
    if not rows:
        return 0
    result = session.connection().execute(_insert_ignore_statement(_dialect_module(session), table, tuple(keys)), list(rows))
    return int(result.rowcount) if result.rowcount is not None else -1


@lru_cache(maxsize=64)
def _insert_ignore_statement(dialect: str, table: Any, keys: tuple[str, ...]) -> Any:
    target = getattr(table, "__table__", table)
    return _insert_for(dialect)(target).on_conflict_do_nothing(index_elements=list(keys))


def upsert_statement(
    session: Session,
    table: Any,
    keys: Sequence[str],
    update: Sequence[str],
    where: Callable[[Any, Any], Any] | None = None,
) -> Any:
    """``INSERT ... ON CONFLICT (keys) DO UPDATE SET update-columns``, built once per dialect.

    ``where(statement, table)`` returns the condition of a conditional update.
    """
    return _upsert_statement(_dialect_module(session), table, tuple(keys), tuple(update), where)


@lru_cache(maxsize=64)
def _upsert_statement(
    dialect: str, table: Any, keys: tuple[str, ...], update: tuple[str, ...], where: Callable[[Any, Any], Any] | None
) -> Any:
    target = getattr(table, "__table__", table)
    statement = _insert_for(dialect)(target)
    return statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={column: statement.excluded[column] for column in update},
        where=where(statement, target) if where is not None else None,
    )


def chunks(items: Sequence[T], size: int = MAX_BOUND_ROWS) -> Iterator[Sequence[T]]:
    """Split ``items`` into slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
