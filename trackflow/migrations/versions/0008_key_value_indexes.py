"""key_value_indexes: (key, value) indexes on params and tags, on SQLite

A search ordered by a param or tag walks this index in order and stops after a page
(``trackflow.tracking.store.keyed_search``), as it walks ``ix_latest_metrics_key_value``
for a metric; a filter ``params.k = 'v'`` can start from it too. SQLite only: a
PostgreSQL b-tree entry is limited to about 2,700 bytes and a value may hold 8,000
characters, so there the searches keep their single statement. Not part of the ORM
metadata, like 0007's full-text objects.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 16:30:00.000000
"""

from __future__ import annotations

from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

_INDEXES = {"ix_params_key_value": "params", "ix_tags_key_value": "tags"}


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name, table in _INDEXES.items():
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} (key, value)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in _INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
