"""notes_full_text: full-text search over notes (SQLite FTS5 table, PostgreSQL GIN index)

SQLite: ``notes_fts``, an FTS5 table over ``notes.text`` (external content: the text is
stored once, in ``notes``), kept in step by three triggers and filled from the notes that
exist. PostgreSQL: a GIN index on ``to_tsvector('simple', text)``, the expression
``trackflow.tracking.store.notes`` searches with. Neither is part of the ORM metadata.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 12:40:00.000000
"""

from __future__ import annotations

from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

_SQLITE_UP = [
    "CREATE VIRTUAL TABLE notes_fts USING fts5(text, content='notes', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2', prefix='2 3')",
    "CREATE TRIGGER notes_fts_insert AFTER INSERT ON notes BEGIN "
    "INSERT INTO notes_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER notes_fts_delete AFTER DELETE ON notes BEGIN "
    "INSERT INTO notes_fts(notes_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER notes_fts_update AFTER UPDATE OF text ON notes BEGIN "
    "INSERT INTO notes_fts(notes_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO notes_fts(rowid, text) VALUES (new.id, new.text); END",
    "INSERT INTO notes_fts(notes_fts) VALUES ('rebuild')",
]
_SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS notes_fts_update",
    "DROP TRIGGER IF EXISTS notes_fts_delete",
    "DROP TRIGGER IF EXISTS notes_fts_insert",
    "DROP TABLE IF EXISTS notes_fts",
]
_POSTGRESQL_UP = ["CREATE INDEX ix_notes_text_fts ON notes USING gin (to_tsvector('simple', text))"]
_POSTGRESQL_DOWN = ["DROP INDEX IF EXISTS ix_notes_text_fts"]


def _run(statements: dict[str, list[str]]) -> None:
    for statement in statements.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def upgrade() -> None:
    _run({"sqlite": _SQLITE_UP, "postgresql": _POSTGRESQL_UP})


def downgrade() -> None:
    _run({"sqlite": _SQLITE_DOWN, "postgresql": _POSTGRESQL_DOWN})
