"""``trackflow serve MODEL_URI``: serve a registered model over HTTP, following its alias or stage."""

from __future__ import annotations

import typer

__all__ = ["register", "serve_command"]


def serve_command(
    model_uri: str = typer.Argument(..., metavar="MODEL_URI", help="e.g. models:/churn-clf@production"),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    poll_interval: float = typer.Option(5.0, "--poll-interval", help="Seconds between checks for a new version."),
    record: bool = typer.Option(True, "--record/--no-record", help="Record the deployment in the registry."),
    allow_unsafe: bool = typer.Option(False, "--allow-unsafe", help="Allow pickle payloads (trusted models only)."),
) -> None:
    """Serve a model: POST /invocations, GET /health, GET /metadata.

    The server re-resolves the URI every --poll-interval seconds and swaps to the new
    version atomically when an alias moves or a promotion changes the stage.
    """
    from trackflow.deployments.serving import serve

    typer.echo(f"Serving {model_uri} on http://{host}:{port} (POST /invocations, GET /health, GET /metadata); "
               f"following it every {poll_interval:g} s.")
    serve(model_uri, host=host, port=port, poll_interval=poll_interval, allow_unsafe=allow_unsafe, record=record)


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the ``trackflow`` app."""
    app.command("serve")(serve_command)
