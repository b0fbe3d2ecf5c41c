"""``trackflow serve MODEL_URI``: serve a registered model over HTTP, following its alias or stage."""

from __future__ import annotations

from typing import Optional

import typer

__all__ = ["register", "serve_command"]

_MIB = 1024 * 1024


def serve_command(
    model_uri: str = typer.Argument(..., metavar="MODEL_URI", help="e.g. models:/churn-clf@production"),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    poll_interval: float = typer.Option(5.0, "--poll-interval", help="Seconds between checks for a new version."),
    record: bool = typer.Option(True, "--record/--no-record", help="Record the deployment in the registry."),
    allow_unsafe: bool = typer.Option(False, "--allow-unsafe", help="Allow pickle payloads (trusted models only)."),
    max_body_bytes: int = typer.Option(16 * _MIB, "--max-body-bytes",
                                       help="Largest request body in bytes; larger ones get a 413 unread."),
    max_rows: int = typer.Option(100_000, "--max-rows", help="Most rows per request; more get a 413."),
    timeout: float = typer.Option(60.0, "--timeout",
                                  help="Seconds to receive a request body (408) and to score it (503)."),
    token: Optional[str] = typer.Option(  # noqa: UP007, UP045 - typer needs Optional on 3.10
        None, "--token", envvar="TRACKFLOW_SERVE_TOKEN", show_envvar=True,
        help="Require 'Authorization: Bearer TOKEN' on every path but /health and /ping. "
             "Prefer the environment variable (arguments are visible to other users in ps)."),
) -> None:
    """Serve a model: POST /invocations, GET /health, GET /metadata.

    The server re-resolves the URI every --poll-interval seconds and swaps to the new
    version atomically when an alias moves or a promotion changes the stage. Bodies are
    JSON (records, dataframe_split, instances) or CSV (Content-Type: text/csv). The
    deployment is recorded once the port is bound.
    """
    from trackflow.deployments.serving import serve

    serve(model_uri, host=host, port=port, poll_interval=poll_interval, allow_unsafe=allow_unsafe, record=record,
          max_body_bytes=max_body_bytes, max_rows=max_rows, timeout=timeout, token=token)


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the ``trackflow`` app."""
    app.command("serve")(serve_command)
