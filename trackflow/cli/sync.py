"""``trackflow sync``: write what tracked flows spooled while their tracking database was down.

Tracked flows and tasks never fail because the tracking database is unreachable: after
``TRACKFLOW_STORE_RETRY_SECONDS`` their writes go to ``$TRACKFLOW_HOME/spool/`` (see
:mod:`trackflow.tracking.spool`). This command replays every spool file of this
``TRACKFLOW_HOME`` into the tracking URI each record was meant for (not necessarily
``TRACKFLOW_TRACKING_URI``), idempotently, and removes a file once all its records are
stored. Any later start of trackflow in the same home does the same in the background.
"""

from __future__ import annotations

import typer

__all__ = ["register", "sync"]


def sync(
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait for a replay already running in this home."),
) -> None:
    """Replay the spooled writes of this TRACKFLOW_HOME into their tracking databases."""
    from trackflow.exceptions import StoreError
    from trackflow.settings import get_settings
    from trackflow.tracking.replay import sync as replay
    from trackflow.tracking.spool import SPOOL_DIR, hide_password
    from trackflow.tracking.stores import open_store

    settings = get_settings()
    directory = settings.home / SPOOL_DIR
    results = replay(settings.home, lambda uri: open_store(uri, settings).store, wait=wait)
    if results is None:
        typer.echo(f"Another trackflow sync is replaying {directory}; nothing done.")
        return
    if not results:
        typer.echo(f"Nothing to sync: no spool files in {directory}.")
        return
    kept = []
    for result in results:
        where = ", ".join(sorted(hide_password(u) for u in result.uris)) or "no database"
        line = f"{result.path.name}: {result.content} -> {where}: {result.stored}/{result.records} record(s) stored"
        if result.dropped:
            line += f", {result.dropped} rejected by the database and dropped (see the log)"
        if result.error is None:
            line += ", file removed" if result.removed else ", replayed (newer records kept)"
        else:
            line += f", file kept: {result.error}"
            kept.append(result)
        typer.echo(line)
    if kept:
        raise StoreError(
            f"{len(kept)} spool file(s) kept: their tracking database is still unavailable.",
            hint="Run `trackflow sync` again once it is reachable; nothing is lost meanwhile.",
        )


def register(app: typer.Typer) -> None:
    """Add ``trackflow sync`` to the command line."""
    app.command("sync")(sync)
