"""What every ui router shares: the Client of the app, the templates, rendering and errors.

Routers import this module (never :mod:`trackflow.ui.app`, which imports the routers).
Pages and their ``/api`` twins call the same data functions; a page renders a template
with the data, the API returns it as JSON.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from trackflow.tracking.client import Client
from trackflow.ui.formatting import FILTERS

__all__ = ["TEMPLATES_DIR", "STATIC_DIR", "templates", "get_client", "render", "query_url", "prefect_ui_base"]

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.filters.update(FILTERS)


def get_client(request: Request) -> Client:
    """The app's Client (FastAPI dependency): one per app, opened by :func:`create_app`."""
    client: Client = request.app.state.client
    return client


def render(request: Request, name: str, context: dict[str, Any], *, status_code: int = 200) -> HTMLResponse:
    """Render template ``name`` with ``context`` (plus ``request`` and the query helpers)."""
    return templates.TemplateResponse(request, name, {**context, "query_url": query_url}, status_code=status_code)


def query_url(path: str, params: dict[str, Any], **changes: Any) -> str:
    """``path`` with the query ``params`` updated by ``changes`` (None drops a key); for links in templates."""
    merged = {**params, **changes}
    kept = {k: v for k, v in merged.items() if v is not None and v != ""}
    return f"{path}?{urlencode(kept)}" if kept else path


def prefect_ui_base() -> str | None:
    """The Prefect UI's base URL from ``PREFECT_UI_URL``, or derived from ``PREFECT_API_URL``; None if unknown."""
    ui = os.environ.get("PREFECT_UI_URL", "").strip().rstrip("/")
    if ui:
        return ui
    api = os.environ.get("PREFECT_API_URL", "").strip().rstrip("/")
    if not api:
        return None
    return api[: -len("/api")] if api.endswith("/api") else api
