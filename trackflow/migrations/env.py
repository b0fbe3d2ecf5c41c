"""Alembic environment of trackflow. Run through ``trackflow.tracking.store.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from trackflow.registry.store import orm as _registry_orm  # noqa: F401  (registers tables)
from trackflow.tracking.store import lifecycle as _lifecycle  # noqa: F401  (registers run_deletions)
from trackflow.tracking.store.orm import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    """Migrate over the connection handed in by trackflow (or a URL in alembic.ini)."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("trackflow migrations: no connection handed in and no sqlalchemy.url in alembic.ini")
    engine = create_engine(url)
    with engine.begin() as conn:
        _run(conn)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
