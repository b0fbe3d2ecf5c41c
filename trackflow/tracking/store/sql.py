"""Dialect-aware SQL helpers shared by the store modules (cached upserts, chunking)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

__all__ = ["dialect_insert", "insert_ignore", "upsert_statement", "chunks", "MAX_BOUND_ROWS"]

T = TypeVar("T")
MAX_BOUND_ROWS = 500  # keeps IN lists and VALUES well below every driver's parameter limit


def _dialect_module(session: Session) -> Any:
    name = session.get_bind().dialect.name
    if name not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"trackflow supports SQLite and PostgreSQL, not {name}")
    return name


def dialect_insert(session: Session, table: Any) -> Any:
    """An INSERT that supports ``on_conflict_*`` for the session's dialect."""
    module = postgresql if _dialect_module(session) == "postgresql" else sqlite
    return module.insert(table)


def insert_ignore(session: Session, table: Any, rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> None:
    """Insert rows, silently keeping existing rows with the same ``keys``."""
    if not rows:
        return
    session.connection().execute(_insert_ignore_statement(_dialect_module(session), table, tuple(keys)), list(rows))


@lru_cache(maxsize=64)
def _insert_ignore_statement(dialect: str, table: Any, keys: tuple[str, ...]) -> Any:
    module = postgresql if dialect == "postgresql" else sqlite
    target = getattr(table, "__table__", table)
    return module.insert(target).on_conflict_do_nothing(index_elements=list(keys))


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
    module = postgresql if dialect == "postgresql" else sqlite
    target = getattr(table, "__table__", table)
    statement = module.insert(target)
    return statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={column: statement.excluded[column] for column in update},
        where=where(statement, target) if where is not None else None,
    )


def chunks(items: Sequence[T], size: int = MAX_BOUND_ROWS) -> Iterator[Sequence[T]]:
    """Split ``items`` into slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
