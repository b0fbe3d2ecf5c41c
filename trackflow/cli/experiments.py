"""``trackflow experiments``: list experiments."""

from __future__ import annotations

import typer

from trackflow.cli.output import OutputFormat, emit

app = typer.Typer(help="Experiments: named groups of runs.", no_args_is_help=True)


@app.command("list")
def list_experiments(
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table, json or csv."),
) -> None:
    """List experiments."""
    from trackflow.tracking.client import Client

    rows = [{"id": e.id, "name": e.name, "created_at": e.created_at} for e in Client().list_experiments()]
    emit(rows, ["name", "id", "created_at"], fmt)
