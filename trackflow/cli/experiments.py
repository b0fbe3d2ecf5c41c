"""``trackflow experiments``: list, create, rename and delete experiments."""

from __future__ import annotations

import typer

from trackflow.cli.output import OutputFormat, emit

__all__ = ["app"]

app = typer.Typer(help="Experiments: named groups of runs.", no_args_is_help=True)


@app.command("list")
def list_experiments(
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table, json or csv."),
) -> None:
    """List experiments."""
    from trackflow.tracking.client import Client

    rows = [{"id": e.id, "name": e.name, "created_at": e.created_at} for e in Client().list_experiments()]
    emit(rows, ["name", "id", "created_at"], fmt)


@app.command("create")
def create(name: str = typer.Argument(..., help="The new experiment's name.")) -> None:
    """Create an empty experiment (runs create theirs on first use too)."""
    from trackflow.tracking.client import Client
    from trackflow.tracking.client_lifecycle import create_experiment

    experiment = create_experiment(Client(), name)
    typer.echo(f"Created experiment {experiment.name!r} ({experiment.id}).")


@app.command("rename")
def rename(
    name: str = typer.Argument(..., help="The experiment's name."),
    new_name: str = typer.Argument(..., help="Its new name."),
) -> None:
    """Rename an experiment; its runs move with it."""
    from trackflow.tracking.client import Client
    from trackflow.tracking.client_lifecycle import rename_experiment

    rename_experiment(Client(), name, new_name)
    typer.echo(f"Renamed experiment {name!r} to {new_name!r}.")


@app.command("delete")
def delete(name: str = typer.Argument(..., help="The experiment's name.")) -> None:
    """Delete an experiment whose runs are all deleted (`trackflow runs delete --experiment NAME`), with them, for good."""
    from trackflow.tracking.client import Client
    from trackflow.tracking.client_lifecycle import delete_experiment

    result = delete_experiment(Client(), name)
    typer.echo(f"Deleted experiment {name!r} and its {len(result.removed)} deleted run(s).")
