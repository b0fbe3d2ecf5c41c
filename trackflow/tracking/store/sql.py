"""Dialect-aware SQL helpers shared by the store modules (cached upserts, chunking), and
:class:`SessionOps`, the base of their operation classes."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import lru_cache
from itertools import chain
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

__all__ = [
    "MAX_BOUND_ROWS",
    "SessionOps",
    "chunks",
    "dialect_insert",
    "driver_execute",
    "driver_insert",
    "driver_rows",
    "driver_update",
    "marker",
    "insert_ignore",
    "quote",
    "rowcount",
    "upsert_statement",
]

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


# ---- driver-level statements (the write path of a flush) ---------------------------------
#
# Compiling a Core INSERT costs SQLAlchemy ~0.3-1 ms the first time in a process, and its
# per-row parameter processing more than SQLite's own insert. The statements a flush issues
# are plain INSERT / upsert / UPDATE over columns with no type conversion (text, integers,
# floats, booleans), so their text is built once per shape and handed to the driver.


def quote(name: str) -> str:
    """``name`` as a quoted SQL identifier (``user`` and ``timestamp`` are keywords in PostgreSQL)."""
    return '"' + name.replace('"', '""') + '"'


@lru_cache(maxsize=256)
def _insert_text(marker: str, table: str, columns: tuple[str, ...], rows: int, suffix: str) -> str:
    one = "(" + ", ".join([marker] * len(columns)) + ")"
    names = ", ".join(map(quote, columns))
    return f"INSERT INTO {quote(table)} ({names}) VALUES {', '.join([one] * rows)}{suffix}"


def _marker(connection: Any) -> str:
    return "?" if connection.dialect.paramstyle == "qmark" else "%s"


def _run(connection: Any, text: str, rows: Sequence[tuple[Any, ...]] | tuple[Any, ...], *, many: bool) -> int:
    """Execute ``text`` once (``rows`` is one parameter tuple) or for every row; the rowcount
    (-1 when unknown).

    On SQLite the DBAPI cursor is used directly: SQLAlchemy's execution context costs more
    than SQLite's insert of a row. A driver error is raised as SQLAlchemy raises it
    (``IntegrityError``, ``OperationalError`` ...), so callers see one kind of error.
    PostgreSQL goes through SQLAlchemy, which also invalidates a connection that was lost.
    """
    if connection.dialect.name != "sqlite":
        result = connection.exec_driver_sql(text, list(rows) if many else rows)
        return -1 if result.rowcount is None else int(result.rowcount)
    dbapi = connection.dialect.loaded_dbapi
    cursor = connection.connection.cursor()
    try:
        if many:
            cursor.executemany(text, rows)
        else:
            cursor.execute(text, rows)
        return int(cursor.rowcount)
    except dbapi.Error as exc:
        raise DBAPIError.instance(text, None, exc, dbapi.Error, dialect=connection.dialect) from exc
    finally:
        cursor.close()


def driver_execute(session: Session, text: str, params: Sequence[tuple[Any, ...]] | tuple[Any, ...], *, many: bool) -> int:
    """Execute a driver-level statement once (``params`` one tuple) or for every tuple of
    ``params`` (``many``); the rowcount, -1 when unknown."""
    return _run(session.connection(), text, params, many=many)


def driver_rows(session: Session, text: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """The rows of a driver-level SELECT, as tuples (see :func:`_run` for why the DBAPI
    cursor is used directly on SQLite)."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return [tuple(row) for row in connection.exec_driver_sql(text, params)]
    dbapi = connection.dialect.loaded_dbapi
    cursor = connection.connection.cursor()
    try:
        cursor.execute(text, params)
        return list(cursor.fetchall())
    except dbapi.Error as exc:
        raise DBAPIError.instance(text, None, exc, dbapi.Error, dialect=connection.dialect) from exc
    finally:
        cursor.close()


def marker(session: Session) -> str:
    """The driver's positional parameter marker: ``?`` (SQLite) or ``%s`` (psycopg)."""
    return _marker(session.connection())


def driver_insert(
    session: Session,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    suffix: str = "",
    per_statement: int = 1,
) -> int:
    """INSERT ``rows`` (tuples in ``columns`` order) into ``table`` through the driver.

    ``suffix`` follows the VALUES (an ``ON CONFLICT`` clause, written with quoted names);
    ``per_statement`` > 1 puts that many rows in one multi-row VALUES (fewer statements),
    the rest with the driver's executemany. Returns how many rows were inserted (or
    updated, for an upsert) when the driver reports it, else -1.
    """
    if not rows:
        return 0
    connection = session.connection()
    marker = _marker(connection)
    names = tuple(columns)
    counts: list[int] = []
    start = 0
    if per_statement > 1 and len(rows) >= per_statement:
        text = _insert_text(marker, table, names, per_statement, suffix)
        start = len(rows) - len(rows) % per_statement
        for first in range(0, start, per_statement):
            flat = tuple(chain.from_iterable(rows[first : first + per_statement]))
            counts.append(_run(connection, text, flat, many=False))
    if start < len(rows):
        text = _insert_text(marker, table, names, 1, suffix)
        rest = [tuple(row) for row in rows[start:]]
        counts.append(_run(connection, text, rest, many=True) if len(rest) > 1 else _run(connection, text, rest[0], many=False))
    return -1 if any(count < 0 for count in counts) else sum(counts)


@lru_cache(maxsize=256)
def _update_text(marker: str, table: str, columns: tuple[str, ...], key: str) -> str:
    assignments = ", ".join(f"{quote(column)} = {marker}" for column in columns)
    return f"UPDATE {quote(table)} SET {assignments} WHERE {quote(key)} = {marker}"


def driver_update(session: Session, table: str, key: str, key_value: Any, values: Mapping[str, Any]) -> int:
    """``UPDATE table SET values WHERE key = key_value`` through the driver; rows matched."""
    connection = session.connection()
    text = _update_text(_marker(connection), table, tuple(values), key)
    return max(_run(connection, text, (*values.values(), key_value), many=False), 0)
