"""``/journal/{experiment}``: an experiment's notes in time order, filterable by kind, with evidence links.

``/api/journal/{experiment}?kind=finding`` returns the same as JSON. The notes are the
experiment's runs' notes (exploration and pipeline alike), oldest first, each with its run,
the evidence it cites (a link per lineage reference) and the runs it informs.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from trackflow.tracking.client import Client
from trackflow.tracking.entities import Note, NoteKind
from trackflow.ui.formatting import iso
from trackflow.ui.web import get_client, render
from trackflow.ui.why_view import ref_href

__all__ = ["router", "journal_data", "MAX_JOURNAL_NOTES"]

router = APIRouter()
MAX_JOURNAL_NOTES = 2000
"""The newest notes a journal page shows."""


def _evidence_label(ref: str, name: str) -> str:
    kind, _, key = ref.partition(":")
    if kind == "dataset":
        key = key.split(":", 1)[-1][:8]
    elif kind == "run":
        key = key[:8]
    elif kind == "artifact":
        key = key.rsplit("/", 1)[-1]
    return f"{kind} {name or key}" if not name or kind != "run" else f"run {key}: {name}"


def _note(note: Note, runs: dict[str, Any], experiment: str) -> dict[str, Any]:
    run = runs.get(note.run_id)
    names = list(note.evidence_names) + [""] * (len(note.evidence) - len(note.evidence_names))
    return {
        "id": note.id, "ref": note.ref, "kind": note.kind.value, "text": note.text, "created_at": iso(note.created_at),
        "run_id": note.run_id, "run_name": run.name if run else None, "run_kind": run.kind if run else None,
        "run_href": f"/runs/{note.run_id}", "anchor": f"note-{note.id}",
        "href": f"/journal/{quote(experiment)}#note-{note.id}",
        "evidence": [{"ref": ref, "name": name or None, "label": _evidence_label(ref, name), "href": ref_href(ref)}
                     for ref, name in zip(note.evidence, names, strict=False)],
        "informs": [{"ref": ref, "href": ref_href(ref)} for ref in note.informs],
    }  # fmt: skip


def journal_data(client: Client, experiment: str, *, kind: str | None = None) -> dict[str, Any]:
    """The experiment's notes (of one ``kind`` when given), oldest first, with runs and evidence links."""
    found = client.get_experiment_by_name(experiment)  # NotFoundError -> 404
    notes = client.search_notes(experiment=found.name, kind=kind or None, max_results=MAX_JOURNAL_NOTES)
    notes.reverse()  # newest first -> time order
    runs = {r.id: r for r in client.get_runs(sorted({n.run_id for n in notes}))} if notes else {}
    return {
        "experiment": found.name,
        "experiment_href": f"/experiments/{quote(found.name)}",
        "kind": kind or None,
        "kinds": [k.value for k in NoteKind],
        "truncated": len(notes) >= MAX_JOURNAL_NOTES,
        "notes": [_note(n, runs, found.name) for n in notes],
    }


@router.get("/api/journal/{name:path}")
def api_journal(
    name: str, kind: str | None = Query(None, description="note, decision, assumption or finding"),
    client: Client = Depends(get_client),
) -> dict[str, Any]:
    """An experiment's notes in time order, with their evidence links."""
    return journal_data(client, name, kind=kind)


@router.get("/journal/{name:path}", response_class=HTMLResponse)
def journal_page(
    request: Request, name: str, kind: str | None = Query(None), client: Client = Depends(get_client)
) -> HTMLResponse:
    """The journal of an experiment: its findings, decisions, assumptions and notes in time order."""
    data = journal_data(client, name, kind=kind)
    return render(request, "journal.html", {"title": f"Journal of {data['experiment']}", "nav": "experiments",
                                            "data": data})  # fmt: skip
