"""Entry point of the ``trackflow`` command.

Command groups live in their own modules and are added here. Errors a user can cause
(:class:`~trackflow.exceptions.TrackflowError`) print one line and a hint and exit 1;
``--debug`` shows the traceback. Prefect is imported only by commands that need it.
"""

from __future__ import annotations

import sys
from typing import Optional

import typer

from trackflow import __version__
from trackflow.cli import db, experiments, runs
from trackflow.cli.state import state

app = typer.Typer(
    name="trackflow",
    help="Tracked, reproducible ML pipelines on Prefect: runs, lineage, models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(experiments.app, name="experiments")
app.add_typer(runs.app, name="runs")
app.add_typer(db.app, name="db")

_OPTIONAL_GROUPS = (
    ("trackflow.cli.models", "models"),
    ("trackflow.cli.lineage", None),
    ("trackflow.cli.pipelines", None),
    ("trackflow.cli.serve", None),
)


def _add_optional_groups() -> None:
    """Add command modules that exist (they land with later features)."""
    import importlib

    for module_name, group in _OPTIONAL_GROUPS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        if group:
            app.add_typer(module.app, name=group)
        else:
            module.register(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"trackflow {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Optional[bool] = typer.Option(  # noqa: UP007 - typer needs Optional on 3.10
        None, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
) -> None:
    """trackflow: tracked ML pipelines on Prefect."""
    state.debug = debug


def run(argv: list[str] | None = None) -> None:
    """Console-script entry: run the app, turning TrackflowError into a one-line message."""
    from trackflow.exceptions import TrackflowError

    _add_optional_groups()
    args = sys.argv[1:] if argv is None else argv
    state.debug = "--debug" in args
    try:
        app(args=args, standalone_mode=False)
    except TrackflowError as exc:
        if state.debug:
            import traceback

            traceback.print_exc()
        typer.secho(f"Error: {exc}", err=True, fg=typer.colors.RED)
        if exc.hint:
            typer.echo(f"Hint: {exc.hint}", err=True)
        raise SystemExit(1) from None
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except typer.Abort:
        typer.echo("Aborted.", err=True)
        raise SystemExit(1) from None
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            raise SystemExit(exc.exit_code) from None
        raise


if __name__ == "__main__":  # pragma: no cover
    run()
