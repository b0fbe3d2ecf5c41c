"""The ``trackflow ui`` app: a FastAPI app over one Client, read-only, optionally behind a token.

``create_app(client, token=...)`` builds it (tests pass a Client); ``app_from_env()`` is the
uvicorn factory ``trackflow ui`` starts (it reads the token from ``TRACKFLOW_UI_TOKEN``).
Every route is a GET: nothing here changes the store.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trackflow import __version__
from trackflow.exceptions import NotFoundError, TrackflowError
from trackflow.tracking.client import Client
from trackflow.ui import compare, experiments, journal, lineage, registry, run, runs
from trackflow.ui.web import STATIC_DIR, render

__all__ = ["create_app", "app_from_env", "ROUTERS", "TOKEN_ENV", "TOKEN_COOKIE", "ServerTiming"]

TOKEN_ENV = "TRACKFLOW_UI_TOKEN"
TOKEN_COOKIE = "trackflow_ui_token"

# The pages and their /api twins, one router per module.
ROUTERS: list[APIRouter] = [
    experiments.router,
    runs.router,
    run.router,
    compare.router,
    lineage.router,
    registry.router,
    journal.router,
]


def create_app(client: Client | None = None, *, token: str | None = None) -> FastAPI:
    """The web app over ``client`` (a new ``Client()`` by default); with ``token`` every request needs it.

    The token is accepted as ``Authorization: Bearer TOKEN``, as ``?token=TOKEN`` (which also
    sets a cookie, so a browser can follow links) or as that cookie.
    """
    app = FastAPI(title="trackflow", version=__version__, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.client = client if client is not None else Client()
    app.state.token = token or None
    if token:
        app.middleware("http")(_token_guard(token))
    app.add_middleware(ServerTiming)
    app.add_exception_handler(TrackflowError, _trackflow_error)  # type: ignore[arg-type]
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    for router in ROUTERS:
        app.include_router(router)
    return app


class ServerTiming:
    """ASGI middleware: a ``Server-Timing: app;dur=<ms>`` header on every response (time to its first byte).

    Browsers show it in their network panel; the ui benchmark reads it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                took = (time.perf_counter() - started) * 1000
                headers = [*message.get("headers", []), (b"server-timing", f"app;dur={took:.2f}".encode())]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed)


def app_from_env() -> FastAPI:
    """The uvicorn factory of ``trackflow ui``: a default Client, the token from ``TRACKFLOW_UI_TOKEN``."""
    return create_app(token=os.environ.get(TOKEN_ENV) or None)


def _token_guard(token: str) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    expected = token.encode()

    def matches(candidate: str | None) -> bool:
        return candidate is not None and hmac.compare_digest(candidate.encode(), expected)

    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        header = request.headers.get("authorization", "")
        bearer = header[7:].strip() if header.lower().startswith("bearer ") else None
        from_query = request.query_params.get("token")
        if matches(from_query) and request.method == "GET" and not request.url.path.startswith("/api/"):
            # Drop the token from the address bar and keep it in a cookie for the next clicks.
            query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])
            redirect = RedirectResponse(request.url.path + (f"?{query}" if query else ""), status_code=303)
            redirect.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
            return redirect
        if matches(bearer) or matches(from_query) or matches(request.cookies.get(TOKEN_COOKIE)):
            return await call_next(request)
        message = "This trackflow ui needs a token: 'Authorization: Bearer TOKEN', ?token=TOKEN or its cookie."
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
        return HTMLResponse(
            f"<!doctype html><title>trackflow: token required</title><p>{message}</p>", status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    return guard


async def _trackflow_error(request: Request, exc: TrackflowError) -> Response:
    """A user-caused error: 404 for unknown things, 400 otherwise; JSON under /api, a page elsewhere."""
    status = 404 if isinstance(exc, NotFoundError) else 400
    hint = getattr(exc, "hint", None)
    if request.url.path.startswith("/api/"):
        body: dict[str, object] = {"error": str(exc), "type": type(exc).__name__}
        if hint:
            body["hint"] = hint
        return JSONResponse(body, status_code=status)
    return render(request, "error.html", {"title": "Not found" if status == 404 else "Error", "message": str(exc),
                                          "hint": hint, "status": status}, status_code=status)
