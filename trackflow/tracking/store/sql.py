"""Dialect-aware SQL helpers shared by the store modules (cached upserts, chunking), and
:class:`SessionOps`, the base of their operation classes."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy.orm import Session

__all__ = ["SessionOps", "dialect_insert", "insert_ignore", "upsert_statement", "rowcount", "chunks", "MAX_BOUND_ROWS"]

T = TypeVar("T")
MAX_BOUND_ROWS = 500  # keeps IN lists and VALUES well below every driver's parameter limit


class SessionOps:
    """Operations over one SQLAlchemy session, which the caller owns: they flush, never commit.

    Each store module (one per entity) defines one subclass implementing its operations;
    the transaction classes of the SQLAlchemy store combine them.
    """

    session: Session

    def __init__(self, session: Session) -> None:
        self.session = session


def _dialect_module(session: Session) -> Any:
    name = session.get_bind().dialect.name
    if name not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"trackflow supports SQLite and PostgreSQL, not {name}")
    return name


def _insert_for(dialect: str) -> Any:
    """The dialect's INSERT with ON CONFLICT (imported on first use: the PostgreSQL
    dialect costs ~0.1 s of start-up for SQLite users)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


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


def rowcount(result: Any) -> int:
    """How many rows an UPDATE or DELETE matched (``Session.execute`` is typed as returning
    a plain ``Result``; for these statements it is a ``CursorResult``)."""
    return int(result.rowcount or 0)


def chunks(items: Sequence[T], size: int = MAX_BOUND_ROWS) -> Iterator[Sequence[T]]:
    """Split ``items`` into slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
