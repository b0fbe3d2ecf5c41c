"""Artifact records: what a run stored, where, with which hash."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from trackflow.tracking.entities import Artifact
from trackflow.tracking.store.convert import to_artifact
from trackflow.tracking.store.orm import ArtifactRow
from trackflow.tracking.store.sql import upsert_statement

__all__ = ["record_artifacts", "read_artifacts"]


def record_artifacts(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Record stored files (run_id, path, uri, sha256, size, media_type, created_at).

    Logging the same path again replaces the record, as the file was replaced.
    """
    if not rows:
        return
    statement = upsert_statement(
        session, ArtifactRow, ["run_id", "path"], ["uri", "sha256", "size", "media_type", "created_at"]
    )
    session.connection().execute(statement, list(rows))


def read_artifacts(session: Session, run_id: str, prefix: str = "") -> list[Artifact]:
    """Artifacts of a run whose path is ``prefix`` or lies under it, by path."""
    statement = select(ArtifactRow).where(ArtifactRow.run_id == run_id)
    rows = [to_artifact(r) for r in session.scalars(statement.order_by(ArtifactRow.path))]
    if not prefix:
        return rows
    return [a for a in rows if a.path == prefix or a.path.startswith(prefix.rstrip("/") + "/")]
