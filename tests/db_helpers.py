"""A connection of its own to a client's database (shared by the store tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, create_engine

from trackflow.tracking.client import Client

__all__ = ["database"]


@contextmanager
def database(client: Client) -> Iterator[Connection]:
    """A connection of its own to the client's database, as another process would open it."""
    engine = create_engine(client.tracking_uri.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()
