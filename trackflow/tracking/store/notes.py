"""Notes: timestamped free text with a kind (note, decision, assumption, finding)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from trackflow.tracking.entities import Note, now_ms
from trackflow.tracking.store.convert import to_note
from trackflow.tracking.store.orm import NoteRow

__all__ = ["create_note", "read_notes"]


def create_note(session: Session, run_id: str, kind: str, text: str) -> Note:
    """Add a note to a run."""
    row = NoteRow(run_id=run_id, kind=kind, text=text, created_at=now_ms())
    session.add(row)
    session.flush()
    return to_note(row)


def read_notes(session: Session, run_id: str, kind: str | None = None) -> list[Note]:
    """The notes of a run, oldest first (only one kind when given)."""
    statement = select(NoteRow).where(NoteRow.run_id == run_id)
    if kind is not None:
        statement = statement.where(NoteRow.kind == kind)
    return [to_note(r) for r in session.scalars(statement.order_by(NoteRow.created_at, NoteRow.id))]
