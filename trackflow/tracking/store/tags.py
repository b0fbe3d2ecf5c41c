"""Tags: mutable key/value labels of a run."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import delete

from trackflow.tracking.store.orm import TagRow
from trackflow.tracking.store.runs import rejected_rows
from trackflow.tracking.store.sql import SessionOps, driver_insert, rowcount

__all__ = ["TagOps"]

_COLUMNS = ("run_id", "key", "value")
_UPSERT = ' ON CONFLICT ("run_id", "key") DO UPDATE SET "value" = excluded."value"'
"""A tag set again takes the new value."""


class TagOps(SessionOps):
    """The tag operations of :class:`~trackflow.tracking.store.base.TrackingTransaction`."""

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        if not tags:
            return
        with rejected_rows(f"tag(s) {', '.join(map(repr, list(tags)[:3]))} of run {run_id}"):
            driver_insert(self.session, "tags", _COLUMNS, [(run_id, k, v) for k, v in tags.items()], suffix=_UPSERT)

    def delete_tag(self, run_id: str, key: str) -> bool:
        return bool(rowcount(self.session.execute(delete(TagRow).where(TagRow.run_id == run_id, TagRow.key == key))))
