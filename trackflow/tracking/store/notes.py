"""Notes: timestamped free text with a kind (note, decision, assumption, finding)."""

from __future__ import annotations

from sqlalchemy import select

from trackflow.tracking.entities import Note, now_ms
from trackflow.tracking.store.convert import to_note
from trackflow.tracking.store.orm import NoteRow
from trackflow.tracking.store.sql import SessionOps

__all__ = ["NoteOps"]


class NoteOps(SessionOps):
    """The note operations of :class:`~trackflow.tracking.store.base.TrackingTransaction`."""

    def create_note(self, run_id: str, kind: str, text: str) -> Note:
        row = NoteRow(run_id=run_id, kind=kind, text=text, created_at=now_ms())
        self.session.add(row)
        self.session.flush()
        return to_note(row)

    def read_notes(self, run_id: str, kind: str | None = None) -> list[Note]:
        statement = select(NoteRow).where(NoteRow.run_id == run_id)
        if kind is not None:
            statement = statement.where(NoteRow.kind == kind)
        return [to_note(r) for r in self.session.scalars(statement.order_by(NoteRow.created_at, NoteRow.id))]
