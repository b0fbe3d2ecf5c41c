"""Tags: mutable key/value labels of a run."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import delete
from sqlalchemy.orm import Session

from trackflow.tracking.store.orm import TagRow
from trackflow.tracking.store.sql import upsert_statement

__all__ = ["set_tags", "delete_tag"]


def set_tags(session: Session, run_id: str, tags: Mapping[str, str]) -> None:
    """Set tags, overwriting existing values."""
    if not tags:
        return
    statement = upsert_statement(session, TagRow, ["run_id", "key"], ["value"])
    session.connection().execute(statement, [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()])


def delete_tag(session: Session, run_id: str, key: str) -> bool:
    """Remove a tag; False if it was not set."""
    result = session.execute(delete(TagRow).where(TagRow.run_id == run_id, TagRow.key == key))
    return bool(result.rowcount)
