"""``trackflow notes``: search the notes (findings, decisions, assumptions) of every run."""

from __future__ import annotations

from typing import Optional

import typer

from trackflow.cli.output import OutputFormat, emit

__all__ = ["app"]

app = typer.Typer(help="Notes of runs: findings, decisions, assumptions, with their evidence.", no_args_is_help=True)


@app.command("search")
def search(
    text: Optional[str] = typer.Argument(None, help="Words every note must hold (a word starting with each matches)."),
    kind: Optional[str] = typer.Option(None, "--kind", "-k", help="note, decision, assumption or finding."),
    experiment: Optional[str] = typer.Option(None, "--experiment", "-e", help="Only notes of runs of this experiment."),
    run: Optional[str] = typer.Option(None, "--run", help="Only notes of this run (its id)."),
    limit: int = typer.Option(100, "--limit", "-n", help="At most this many notes, newest first."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table, json or csv."),
) -> None:
    """Full-text search over notes, newest first, with the evidence each one cites."""
    from trackflow.tracking.client import Client

    client = Client()
    run_id = client.get_run(run).id if run else None
    notes = client.search_notes(text=text, kind=kind, experiment=experiment, run_id=run_id, max_results=limit)
    rows = [
        {
            "id": note.ref,
            "kind": note.kind.value,
            "created_at": note.created_at,
            "run_id": note.run_id,
            "text": note.text,
            "evidence": ", ".join(_cited(ref, name) for ref, name in zip(note.evidence, note.evidence_names, strict=True)),
            "informs": ", ".join(note.informs),
        }
        for note in notes
    ]
    if not rows and fmt is OutputFormat.table:
        typer.echo("No notes found.")
        return
    emit(rows, ["id", "kind", "created_at", "run_id", "text", "evidence", "informs"], fmt)


def _cited(ref: str, name: str) -> str:
    return f"{ref} ({name})" if name else ref
