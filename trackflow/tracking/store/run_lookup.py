"""Look-ups behind the command line's references: datasets by a prefix of their fingerprint."""

from __future__ import annotations

from sqlalchemy import select

from trackflow.tracking.store.orm import DatasetRow
from trackflow.tracking.store.sql import SessionOps

__all__ = ["RunLookupOps"]


class RunLookupOps(SessionOps):
    """The look-up reads of :class:`~trackflow.tracking.store.base.TrackingTransaction`."""

    def read_fingerprints_by_prefix(self, prefix: str, *, limit: int) -> list[str]:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        statement = (
            select(DatasetRow.fingerprint)
            .where(DatasetRow.fingerprint.like(f"{escaped}%", escape="\\"))
            .order_by(DatasetRow.fingerprint)
            .limit(limit)
        )
        return list(self.session.scalars(statement))
