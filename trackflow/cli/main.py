"""Entry point of the ``trackflow`` command.

Command groups live in their own modules and are added here. Errors a user can cause
(:class:`~trackflow.exceptions.TrackflowError`) print one line and a hint and exit 1; usage
mistakes (an unknown command or option, a bad value, a missing argument) one line and a hint
and exit 2; ``--debug``, anywhere on the line, shows the traceback. Prefect is imported only by commands that need it.

Start-up: ``runs list`` and ``models list`` are called without Typer's pydantic coercion
(:mod:`trackflow.cli.fast`) and, without ``--filter`` / ``--order-by``, read through the
DB-API read path (:mod:`trackflow.cli.reading`), so on SQLite they import neither pydantic
nor SQLAlchemy. A new command group is added to ``_OPTIONAL_GROUPS`` below.
"""

from __future__ import annotations

import sys
from typing import Optional

import typer

from trackflow import __version__
from trackflow.cli import db, experiments, runs
from trackflow.cli.fast import try_fast
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
    ("trackflow.cli.artifacts", "artifacts"),
    ("trackflow.cli.notes", "notes"),
    ("trackflow.cli.lineage", None),
    ("trackflow.cli.gc", None),
    ("trackflow.cli.pipelines", None),
    ("trackflow.cli.serve", None),
    ("trackflow.cli.ui", None),
    ("trackflow.cli.sync", None),
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
    state.debug = state.debug or debug


def _split_debug(args: list[str]) -> tuple[list[str], bool]:
    """``args`` without ``--debug`` (accepted anywhere before a ``--``) and whether it was given."""
    end = args.index("--") if "--" in args else len(args)
    kept = [a for a in args[:end] if a != "--debug"] + args[end:]
    return kept, len(kept) != len(args)


def _usage_error(exc: Exception) -> int:
    """Print a command-line usage mistake as one line plus a hint; its exit status (2).

    ``trackflow`` or a group without a command prints the help and exits 0.
    """
    from typer._click.exceptions import NoArgsIsHelpError, UsageError

    if isinstance(exc, NoArgsIsHelpError):
        typer.echo(exc.format_message())
        return 0
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "trackflow"
    message = str(exc.format_message()).replace("Value error, ", "")  # type: ignore[attr-defined]
    typer.secho(f"Error: {message}", err=True, fg=typer.colors.RED)
    typer.echo(f"Hint: run `{command} --help` to see the commands and options.", err=True)
    return UsageError.exit_code


def _is_click_error(exc: BaseException) -> bool:
    """True for the usage errors of Typer's bundled click (and of click itself, if present)."""
    from typer._click.exceptions import ClickException

    if isinstance(exc, ClickException):
        return True
    click = sys.modules.get("click")
    return click is not None and isinstance(exc, click.ClickException)


def run(argv: list[str] | None = None) -> None:
    """Console-script entry: run the app; a TrackflowError prints one line and a hint (exit 1),
    a usage mistake one line and a hint (exit 2); ``--debug`` anywhere shows the traceback."""
    from trackflow.exceptions import TrackflowError

    _add_optional_groups()
    args, state.debug = _split_debug(list(sys.argv[1:] if argv is None else argv))
    try:
        if try_fast(app, args):  # `runs list`, `models list`: no Typer coercion (pydantic) needed
            return
        code = app(args=args, prog_name="trackflow", standalone_mode=False)
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
    except Exception as exc:
        if not _is_click_error(exc):
            raise
        if state.debug:
            import traceback

            traceback.print_exc()
        from typer._click.exceptions import UsageError

        click = sys.modules.get("click")
        if isinstance(exc, UsageError) or (click is not None and isinstance(exc, click.UsageError)):
            raise SystemExit(_usage_error(exc)) from None
        exc.show()  # type: ignore[attr-defined]
        raise SystemExit(getattr(exc, "exit_code", 1)) from None
    if isinstance(code, int) and code != 0:  # a typer.Exit(code) without standalone mode is returned
        raise SystemExit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
