"""``trackflow ui``: serve the read-only web app over the tracking store with uvicorn.

The command does not import :mod:`trackflow.ui` (``cli`` and ``ui`` are independent rooms):
uvicorn loads the app factory ``trackflow.ui.app:app_from_env`` by name, and the token
reaches it through ``TRACKFLOW_UI_TOKEN``.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Optional

import typer

__all__ = ["register", "ui_command", "is_loopback", "exposure_warning"]

APP_FACTORY = "trackflow.ui.app:app_from_env"
TOKEN_ENV = "TRACKFLOW_UI_TOKEN"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, token: str | None) -> str | None:
    """The warning printed when the ui listens beyond this machine without a token, else None."""
    if is_loopback(host) or token:
        return None
    return (f"Warning: serving on {host} without a token: anyone who can reach this address can read every run, "
            f"metric and artifact. Pass --token (or set {TOKEN_ENV}).")


def ui_command(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (loopback by default)."),
    port: int = typer.Option(5000, "--port", help="Port to listen on."),
    token: Optional[str] = typer.Option(  # noqa: UP007, UP045 - typer needs Optional on 3.10
        None, "--token", envvar=TOKEN_ENV, show_envvar=True,
        help="Require this token on every request ('Authorization: Bearer TOKEN', ?token=TOKEN or its cookie). "
             "Prefer the environment variable (arguments are visible to other users in ps)."),
) -> None:
    """Browse experiments, runs, metrics, lineage and models in a browser (read-only).

    Reads TRACKFLOW_TRACKING_URI and TRACKFLOW_ARTIFACT_ROOT like every other command.
    """
    import uvicorn

    from trackflow.settings import get_settings

    warning = exposure_warning(host, token)
    if warning:
        typer.echo(warning, err=True)
    if token:
        os.environ[TOKEN_ENV] = token
    else:
        os.environ.pop(TOKEN_ENV, None)
    shown = f"[{host}]" if ":" in host else host
    auth = "token required" if token else "no token"
    typer.echo(f"trackflow ui on http://{shown}:{port} ({auth}; read-only) over {get_settings().tracking_uri}")
    uvicorn.run(APP_FACTORY, factory=True, host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    """Add ``ui`` to the ``trackflow`` app."""
    app.command("ui")(ui_command)
