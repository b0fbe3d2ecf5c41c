"""``trackflow db``: schema management."""

from __future__ import annotations

import typer

app = typer.Typer(help="The tracking database.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(
    uri: str = typer.Option(None, "--uri", help="Database URL (default: TRACKFLOW_TRACKING_URI or the embedded one)."),
) -> None:
    """Migrate the tracking database to this version's schema (rows are kept)."""
    from trackflow.settings import get_settings
    from trackflow.tracking.store.db import create_tracking_engine
    from trackflow.tracking.store.migrate import upgrade_schema

    settings = get_settings()
    target = uri or settings.tracking_uri
    engine = create_tracking_engine(target, busy_timeout=settings.sqlite_busy_timeout)
    try:
        before, after = upgrade_schema(engine)
    finally:
        engine.dispose()
    shown = engine.url.render_as_string(hide_password=True)
    if before == after:
        typer.echo(f"{shown} is already at revision {after}.")
    else:
        typer.echo(f"Upgraded {shown} from revision {before or '(empty)'} to {after}.")


@app.command("current")
def current(
    uri: str = typer.Option(None, "--uri", help="Database URL (default: TRACKFLOW_TRACKING_URI)."),
) -> None:
    """Show the database's schema revision and the newest one this version knows."""
    from trackflow.settings import get_settings
    from trackflow.tracking.store.db import create_tracking_engine
    from trackflow.tracking.store.migrate import read_schema_state

    settings = get_settings()
    engine = create_tracking_engine(uri or settings.tracking_uri, busy_timeout=settings.sqlite_busy_timeout)
    try:
        state = read_schema_state(engine)
    finally:
        engine.dispose()
    typer.echo(f"current: {state.current or '(empty)'}  head: {state.head}")
