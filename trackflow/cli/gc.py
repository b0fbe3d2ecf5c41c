"""``trackflow gc``: remove deleted runs for good (rows and artifact files).

Runs deleted with ``trackflow runs delete`` are kept until this runs; a run a registered
model version was made from (or a run it is nested in) is never removed.
"""

from __future__ import annotations

import typer

__all__ = ["gc", "register"]


def gc(
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be removed; change nothing."),
) -> None:
    """Remove deleted runs, their metrics, params, tags, notes, lineage and artifact files, for good."""
    from trackflow.tracking.client import Client
    from trackflow.tracking.client_lifecycle import collect_garbage

    result = collect_garbage(Client(), dry_run=dry_run)
    for run_id in result.removed:
        typer.echo(f"{'would remove' if dry_run else 'removed'} {run_id}")
    for run_id in result.kept:
        typer.echo(f"kept {run_id} (a registered model version needs it)")
    verb = "Would remove" if dry_run else "Removed"
    typer.echo(f"{verb} {len(result.removed)} deleted run(s); kept {len(result.kept)}.")


def register(app: typer.Typer) -> None:
    """Add the ``gc`` command to the ``trackflow`` app."""
    app.command("gc")(gc)
