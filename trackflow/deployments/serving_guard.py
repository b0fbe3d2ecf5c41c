"""Limits and authentication in front of the model server: a plain ASGI middleware.

:class:`RequestGuard` runs before FastAPI sees a request:

* with a token, every path but ``/health`` and ``/ping`` needs ``Authorization: Bearer
  <token>`` (compared with :func:`secrets.compare_digest`); otherwise a 401, answered
  before the body is read;
* a body declared (``Content-Length``) larger than ``max_body_bytes`` is answered with a
  413 without reading any of it; a body without a length (chunked) is counted chunk by
  chunk as it arrives from ``receive()`` and answered with a 413 as soon as the count
  passes the limit, so at most ``max_body_bytes`` plus one chunk is ever held;
* a body that does not arrive within ``body_timeout`` seconds is answered with a 408
  (and the connection closed).

The body read within the limit is handed to the app unchanged. After a 413 the server
discards the rest of what the client sends (it is never stored), so the client still
reads the answer.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["DEFAULT_MAX_BODY_BYTES", "OPEN_PATHS", "RequestGuard", "is_loopback"]

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
OPEN_PATHS = frozenset({"/health", "/ping"})

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_loopback(host: str) -> bool:
    """True if ``host`` only accepts connections from this machine (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def _reply(send: Send, status: int, code: str, message: str, hint: str | None = None,
                 headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"error_code": code, "message": message, "hint": hint}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


class RequestGuard:
    """ASGI middleware: token check, body size limit and body read timeout (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES, token: str | None = None,
                 body_timeout: float = 60.0) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self._token = token.encode() if token is not None else None
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._token is not None and scope.get("path") not in OPEN_PATHS and not self._authorized(scope):
            await _reply(send, 401, "UNAUTHORIZED", "This server requires 'Authorization: Bearer <token>'.",
                         "Send the token the server was started with (--token / TRACKFLOW_SERVE_TOKEN).",
                         headers=[(b"www-authenticate", b'Bearer realm="trackflow"')])
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._too_large(send, f"declares {declared} bytes")
            return
        chunks: list[bytes] = []
        size = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.body_timeout
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except asyncio.TimeoutError:
                await _reply(send, 408, "REQUEST_TIMEOUT",
                             f"The request body did not arrive within {self.body_timeout:g} s.",
                             headers=[(b"connection", b"close")])
                return
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._too_large(send, f"passed {self.max_body_bytes} bytes")
                return
            if chunk:
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    def _authorized(self, scope: Scope) -> bool:
        assert self._token is not None
        for name, value in scope.get("headers", []):
            if name.lower() == b"authorization":
                scheme, _, credentials = bytes(value).partition(b" ")
                return scheme.lower() == b"bearer" and secrets.compare_digest(credentials.strip(), self._token)
        return False

    async def _too_large(self, send: Send, detail: str) -> None:
        await _reply(send, 413, "PAYLOAD_TOO_LARGE",
                     f"The request body {detail}; this server accepts at most {self.max_body_bytes} bytes "
                     f"(--max-body-bytes).", "Send fewer rows per request.")


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` once, then defers to the server's (disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
