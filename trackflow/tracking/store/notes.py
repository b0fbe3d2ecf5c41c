"""Notes: timestamped free text with a kind (note, decision, assumption, finding), their
evidence and the runs they inform (lineage edges of the node ``note:<id>``), and full-text
search (migration 0007: SQLite's FTS5 table ``notes_fts``, PostgreSQL's GIN index on
``to_tsvector('simple', text)``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from sqlalchemy import column, func, literal_column, select, table

from trackflow.tracking.entities import EVIDENCE, INFORMS, Note, now_ms
from trackflow.tracking.store.convert import to_note
from trackflow.tracking.store.lifecycle import not_deleted
from trackflow.tracking.store.orm import LineageEdgeRow, NoteRow, RunRow
from trackflow.tracking.store.sql import SessionOps, chunks

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
        rows = list(self.session.scalars(statement.order_by(NoteRow.created_at, NoteRow.id)))
        return self._with_links([to_note(r) for r in rows])

    def read_notes_of_runs(self, run_ids: Sequence[str]) -> dict[str, list[Note]]:
        rows: list[NoteRow] = []
        for part in chunks(list(dict.fromkeys(run_ids))):
            rows += self.session.scalars(select(NoteRow).where(NoteRow.run_id.in_(part)))
        rows.sort(key=lambda r: (r.created_at, r.id))
        found: dict[str, list[Note]] = {}
        for note in self._with_links([to_note(r) for r in rows]):
            found.setdefault(note.run_id, []).append(note)
        return found

    def read_notes_by_id(self, note_ids: Sequence[int]) -> dict[int, Note]:
        found: list[Note] = []
        for part in chunks(list(dict.fromkeys(note_ids))):
            found += [to_note(r) for r in self.session.scalars(select(NoteRow).where(NoteRow.id.in_(part)))]
        return {n.id: n for n in self._with_links(found)}

    def search_notes(
        self,
        *,
        terms: Sequence[str],
        kind: str | None,
        experiment_id: str | None,
        run_id: str | None,
        limit: int,
    ) -> list[Note]:
        dialect = self.session.get_bind().dialect.name
        # ids grow with time: newest first by id; on SQLite the FTS5 table drives the query in
        # descending rowid order, so a common word stops after ``limit`` notes instead of
        # collecting every match first
        newest: Any = NoteRow.id.desc()
        statement = select(NoteRow)
        if terms and dialect == "sqlite":
            fts = table("notes_fts", column("rowid"))
            query = " ".join('"' + term.replace('"', '""') + '"*' for term in terms)
            statement = (
                statement.select_from(fts)
                .join(NoteRow, NoteRow.id == fts.c.rowid)
                .where(literal_column("notes_fts").op("MATCH")(query))
            )
            newest = fts.c.rowid.desc()
        elif terms:
            tsquery = " & ".join(term.replace("'", "") + ":*" for term in terms)
            simple: Any = literal_column("'simple'")
            statement = statement.where(func.to_tsvector(simple, NoteRow.text).op("@@")(func.to_tsquery(simple, tsquery)))
        if kind is not None:
            statement = statement.where(NoteRow.kind == kind)
        if run_id is not None:
            statement = statement.where(NoteRow.run_id == run_id)
        statement = statement.join(RunRow, RunRow.id == NoteRow.run_id).where(not_deleted())
        if experiment_id is not None:
            statement = statement.where(RunRow.experiment_id == experiment_id)
        rows = self.session.scalars(statement.order_by(newest).limit(limit))
        return self._with_links([to_note(r) for r in rows])

    def _with_links(self, notes: list[Note]) -> list[Note]:
        """The notes with their evidence (edges into ``note:<id>``) and what they inform."""
        if not notes:
            return notes
        refs = [n.ref for n in notes]
        evidence: dict[str, list[tuple[str, str]]] = {}
        informs: dict[str, list[str]] = {}
        for part in chunks(refs):
            incoming = select(LineageEdgeRow).where(LineageEdgeRow.target.in_(part), LineageEdgeRow.relation == EVIDENCE)
            for edge in self.session.scalars(incoming.order_by(LineageEdgeRow.id)):
                evidence.setdefault(edge.target, []).append((edge.source, edge.name or ""))
            outgoing = select(LineageEdgeRow).where(LineageEdgeRow.source.in_(part), LineageEdgeRow.relation == INFORMS)
            for edge in self.session.scalars(outgoing.order_by(LineageEdgeRow.id)):
                informs.setdefault(edge.source, []).append(edge.target)
        return [
            dataclasses.replace(
                note,
                evidence=tuple(source for source, _ in evidence.get(note.ref, [])),
                evidence_names=tuple(name for _, name in evidence.get(note.ref, [])),
                informs=tuple(informs.get(note.ref, [])),
            )
            for note in notes
        ]
