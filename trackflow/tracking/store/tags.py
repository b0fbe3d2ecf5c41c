"""Tags: mutable key/value labels of a run."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import delete

from trackflow.tracking.store.orm import TagRow
from trackflow.tracking.store.runs import rejected_rows
from trackflow.tracking.store.sql import SessionOps, rowcount, upsert_statement

__all__ = ["TagOps"]


class TagOps(SessionOps):
    """The tag operations of :class:`~trackflow.tracking.store.base.TrackingTransaction`."""

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        if not tags:
            return
        statement = upsert_statement(self.session, TagRow, ["run_id", "key"], ["value"])
        with rejected_rows(f"tag(s) {', '.join(map(repr, list(tags)[:3]))} of run {run_id}"):
            self.session.connection().execute(
                statement, [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()]
            )

    def delete_tag(self, run_id: str, key: str) -> bool:
        return bool(rowcount(self.session.execute(delete(TagRow).where(TagRow.run_id == run_id, TagRow.key == key))))
