"""Artifact records: what a run stored, where, with which hash."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select

from trackflow.tracking.entities import Artifact
from trackflow.tracking.store.convert import to_artifact
from trackflow.tracking.store.orm import ArtifactRow
from trackflow.tracking.store.sql import SessionOps, upsert_statement

__all__ = ["ArtifactOps"]


class ArtifactOps(SessionOps):
    """The artifact operations of :class:`~trackflow.tracking.store.base.TrackingTransaction`."""

    def record_artifacts(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        statement = upsert_statement(
            self.session, ArtifactRow, ["run_id", "path"], ["uri", "sha256", "size", "media_type", "created_at"]
        )
        self.session.connection().execute(statement, [dict(r) for r in rows])

    def read_artifacts(self, run_id: str, prefix: str = "") -> list[Artifact]:
        statement = select(ArtifactRow).where(ArtifactRow.run_id == run_id)
        rows = [to_artifact(r) for r in self.session.scalars(statement.order_by(ArtifactRow.path))]
        if not prefix:
            return rows
        return [a for a in rows if a.path == prefix or a.path.startswith(prefix.rstrip("/") + "/")]
