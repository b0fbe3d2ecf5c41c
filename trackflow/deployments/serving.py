"""Serve a registered model over HTTP (FastAPI + uvicorn), following its alias or stage.

``trackflow serve models:/churn-clf@production --port 8000`` answers:

``POST /invocations``
    JSON records (``[{...}, ...]`` or ``{"dataframe_records": [...]}``), a split-orient
    frame (``{"dataframe_split": {"columns": [...], "data": [[...]]}}``) or MLflow's
    ``{"instances": ...}`` / ``{"inputs": ...}``, or a CSV body (``Content-Type:
    text/csv``, a header line then one line per row) as ``mlflow models serve`` takes;
    returns ``{"predictions": [...]}``.
    Input is checked against the model's signature: a problem is a 422 whose JSON body
    (``error_code``, ``message``, ``hint``) names the column.
``GET /health`` (and ``/ping``)
    ``{"status": "ok", "model": ..., "version": ...}``.
``GET /metadata``
    name, version, stage, aliases, run, signature and when the version was loaded.

Limits (see :mod:`.serving_guard`): a body over ``max_body_bytes`` (16 MiB) is a 413
answered before it is read into memory; more than ``max_rows`` rows is a 413 naming the
limit; a body that does not arrive, or a prediction that does not finish, within
``timeout`` seconds is a 408 / 503. Every malformed payload (bad JSON, numbers out of
range, a bad ``dataframe_split`` index, ...) is a 4xx whose message names the problem.
With a ``token``, every path but ``/health`` and ``/ping`` needs ``Authorization: Bearer
<token>`` (401 otherwise).

The server follows the URI: a background thread re-resolves it every ``poll_interval``
seconds and, when it names another version, loads that version (verified against its
recorded sha256) and swaps it in with one reference assignment. A request reads the
reference once, so requests in flight finish on the version they started with and never
fail because of a swap; a version that cannot be loaded is logged and the old one keeps
serving. ``models:/<name>@<stage>`` follows the stage when no alias of that name exists.

:func:`serve` resolves and loads the model, then binds the port, and only then prints where
it serves and records the deployment: a start that fails (an unknown model, a port in use)
prints no "Serving" line and records nothing.
"""

from __future__ import annotations

import errno
import logging
import math
import socket
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from trackflow.deployments.serving_guard import DEFAULT_MAX_BODY_BYTES, RequestGuard, is_loopback
from trackflow.deployments.serving_payloads import (
    PAYLOAD_HINT,
    TooManyRowsError,
    is_csv,
    parse_body,
    parse_csv,
    parse_payload,
)
from trackflow.exceptions import InvalidInputError, NotFoundError, TrackflowError

if TYPE_CHECKING:
    from trackflow.registry.entities import ModelVersion
    from trackflow.registry.model_format import PackagedModel
    from trackflow.tracking.client import Client

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_ROWS",
    "DEFAULT_TIMEOUT",
    "ServedModel",
    "ModelServer",
    "TooManyRowsError",
    "parse_body",
    "parse_csv",
    "parse_payload",
    "exposure_warning",
    "create_app",
    "serve",
    "ServeError",
]

logger = logging.getLogger("trackflow.serving")
_PAYLOAD_HINT = PAYLOAD_HINT
DEFAULT_MAX_ROWS = 100_000
DEFAULT_TIMEOUT = 60.0


@dataclass(frozen=True)
class ServedModel:
    """A loaded model and the registry version it came from (None for ``runs:/`` URIs)."""

    model: PackagedModel
    version: ModelVersion | None
    loaded_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    deployment_id: str | None = None


def _jsonable(values: Any) -> list[Any]:
    import numpy as np

    items = np.asarray(values).tolist()

    def clean(item: Any) -> Any:
        if isinstance(item, float) and not math.isfinite(item):
            return None
        if isinstance(item, list):
            return [clean(i) for i in item]
        return item

    return [clean(i) for i in items]


class ModelServer:
    """Holds the served model, follows its URI and answers predictions (see the module docstring)."""

    def __init__(
        self,
        uri: str,
        *,
        client: Client | None = None,
        poll_interval: float = 5.0,
        allow_unsafe: bool = False,
        target: str | None = None,
        record: bool = False,
    ) -> None:
        from trackflow.registry.uris import parse_model_uri

        self.parsed = parse_model_uri(uri)
        if isinstance(poll_interval, bool) or not isinstance(poll_interval, (int, float)) or not poll_interval > 0:
            raise InvalidInputError(f"poll_interval must be a positive number of seconds, got {poll_interval!r}.")
        if client is None:
            from trackflow.tracking.fluent import get_client

            client = get_client()
        self.uri = uri
        self.client = client
        self.poll_interval = float(poll_interval)
        self.allow_unsafe = allow_unsafe
        self.target = target
        self.record = record
        self._current: ServedModel | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._refresh_lock = threading.Lock()

    # ---- the model ------------------------------------------------------------------

    @property
    def current(self) -> ServedModel:
        """The model serving now (loads it on first use)."""
        served = self._current
        if served is None:
            self.refresh()
            served = self._current
        assert served is not None
        return served

    def resolve(self) -> ModelVersion | None:
        """The version the URI names now (None for a ``runs:/`` URI)."""
        if self.parsed.kind == "run":
            return None
        registry = self.client.registry
        try:
            return registry.resolve(self.uri)
        except NotFoundError:
            alias = self.parsed.alias
            if self.parsed.kind != "alias" or alias not in ("development", "staging", "production", "archived"):
                raise
            return registry.resolve(f"models:/{self.parsed.name}/{alias}")

    def refresh(self) -> bool:
        """Re-resolve the URI; load and swap in the version it names if it changed. True if swapped."""
        from trackflow.registry.loading import load_model, load_version

        with self._refresh_lock:
            version = self.resolve()
            old = self._current
            if old is not None and (version is None or _same(old.version, version)):
                return False
            if version is None:
                model = load_model(self.uri, allow_unsafe=self.allow_unsafe, client=self.client)
            else:
                model = load_version(self.client, version, allow_unsafe=self.allow_unsafe)
            recorded = self._record(version) if self._thread is not None else None
            self._current = ServedModel(model=model, version=version, deployment_id=recorded)  # the atomic swap
        if old is not None and old.version is not None and version is not None:
            logger.warning("trackflow serve: %s now serves version %s (was %s)", self.uri, version.version,
                           old.version.version)
        return True

    def _record(self, version: ModelVersion | None) -> str | None:
        if not self.record or version is None or self.target is None:
            return None
        try:
            details = {"uri": self.uri, "server": "trackflow serve"}
            return self.client.registry.record_deployment(
                version.name, version.version, target=self.target, details=details
            ).id
        except TrackflowError as exc:  # recording never stops serving
            logger.warning("trackflow serve: could not record the deployment: %s", exc)
            return None

    # ---- following the URI ------------------------------------------------------------

    def start(self) -> None:
        """Load the model (if not loaded) and start the background poll (not for ``runs:/``)."""
        served = self.current  # load now, so a bad URI fails before serving
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._poll, name="trackflow-model-poll", daemon=True)
        with self._refresh_lock:
            if served.deployment_id is None and self._current is served:
                self._current = ServedModel(model=served.model, version=served.version, loaded_at=served.loaded_at,
                                            deployment_id=self._record(served.version))
        if self.parsed.kind != "run":
            self._thread.start()

    def stop(self) -> None:
        """Stop polling and mark the deployment record stopped."""
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=max(5.0, self.poll_interval))
        self._thread = None
        served = self._current
        if served is not None and served.deployment_id is not None:
            try:
                self.client.registry.end_deployment(served.deployment_id)
            except TrackflowError as exc:
                logger.warning("trackflow serve: could not end the deployment record: %s", exc)

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_interval):
            try:
                self.refresh()
            except Exception as exc:  # noqa: BLE001 - keep serving the loaded version
                logger.warning("trackflow serve: could not refresh %s (still serving the loaded version): %s",
                               self.uri, exc)

    # ---- answers --------------------------------------------------------------------

    def predict(self, payload: Any, *, max_rows: int | None = None) -> dict[str, Any]:
        """``{"predictions": [...]}`` for a parsed JSON request body; bad input raises InvalidInputError."""
        return self.score(parse_payload(payload, max_rows=max_rows))

    def score(self, data: Any) -> dict[str, Any]:
        """``{"predictions": [...]}`` for model input (a DataFrame, records ...); bad input raises InvalidInputError."""
        served = self.current  # read the reference once: a swap never affects this request
        try:
            predictions = served.model.predict(data)
        except InvalidInputError:
            raise
        except (ValueError, KeyError, TypeError, OverflowError, IndexError) as exc:  # the estimator refused it
            raise InvalidInputError(f"The model could not score the input: {exc}", hint=_PAYLOAD_HINT) from None
        return {"predictions": _jsonable(predictions)}

    def metadata(self) -> dict[str, Any]:
        """What is served: name, version, stage, aliases, signature, run, load time."""
        served = self.current
        version, manifest, signature = served.version, served.model.manifest, served.model.signature
        if version is not None:
            try:  # stage and aliases move without a new version: read them fresh
                version = self.client.registry.get_version(version.name, version.version)
            except TrackflowError as exc:
                logger.warning("trackflow serve: could not read version %s: %s", version.version, exc)
        return {
            "uri": self.uri,
            "name": version.name if version else None,
            "version": version.version if version else None,
            "stage": version.stage.value if version else None,
            "aliases": list(version.aliases) if version else [],
            "run_id": version.run_id if version else manifest.run_id,
            "source": version.source if version else self.uri,
            "model_class": manifest.model_class,
            "signature": signature.to_dict() if signature is not None else None,
            "loaded_at": served.loaded_at.isoformat(),
        }

    def health(self) -> dict[str, Any]:
        """Liveness and what is loaded."""
        served = self.current
        return {"status": "ok", "model": served.version.name if served.version else self.uri,
                "version": served.version.version if served.version else None}


def _same(old: ModelVersion | None, new: ModelVersion) -> bool:
    if old is None:
        return False
    return (old.name, old.version, old.payload_sha256) == (new.name, new.version, new.payload_sha256)


def _check_limits(max_body_bytes: int, max_rows: int | None, timeout: float, token: str | None) -> None:
    if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int) or max_body_bytes < 1:
        raise InvalidInputError(f"max_body_bytes must be a positive number of bytes, got {max_body_bytes!r}.")
    if max_rows is not None and (isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1):
        raise InvalidInputError(f"max_rows must be a positive number of rows, got {max_rows!r}.")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < math.inf:
        raise InvalidInputError(f"timeout must be a positive number of seconds, got {timeout!r}.")
    if token is not None and (not isinstance(token, str) or not token.strip() or token != token.strip()
                              or not token.isascii() or not token.isprintable()):
        raise InvalidInputError("The token must be a non-empty string of printable ASCII without surrounding "
                                "spaces.", hint="e.g. export TRACKFLOW_SERVE_TOKEN=$(openssl rand -hex 32)")


def exposure_warning(host: str, token: str | None) -> str | None:
    """The warning printed when the server listens beyond loopback without a token (else None)."""
    if token is not None or is_loopback(host):
        return None
    return (f"WARNING: trackflow serve listens on {host} without a token: anyone who can reach this port can "
            f"call /invocations and /metadata. Set TRACKFLOW_SERVE_TOKEN (or --token) to require "
            f"'Authorization: Bearer <token>', or bind to 127.0.0.1.")


def create_app(
    server: ModelServer,
    *,
    poll: bool = True,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_rows: int | None = DEFAULT_MAX_ROWS,
    timeout: float = DEFAULT_TIMEOUT,
    token: str | None = None,
) -> Any:
    """The FastAPI app of ``server``; with ``poll`` it follows the URI while running.

    ``max_body_bytes``, ``max_rows``, ``timeout`` and ``token`` are the limits and the
    authentication described in the module docstring.
    """
    import anyio
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    _check_limits(max_body_bytes, max_rows, timeout, token)

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        if poll:
            server.start()
        try:
            yield
        finally:
            if poll:
                server.stop()

    app = FastAPI(title=f"trackflow model server: {server.uri}", lifespan=lifespan)
    app.add_middleware(RequestGuard, max_body_bytes=max_body_bytes, token=token, body_timeout=timeout)

    def error(status: int, code: str, exc: Exception, hint: str | None = None) -> JSONResponse:
        return JSONResponse(status_code=status, content={"error_code": code, "message": str(exc),
                                                         "hint": getattr(exc, "hint", None) or hint})

    @app.exception_handler(RequestValidationError)
    async def _bad_body(_request: Any, exc: RequestValidationError) -> JSONResponse:
        messages = "; ".join(str(e.get("msg")) for e in exc.errors())
        return error(422, "INVALID_INPUT", ValueError(f"The request is not valid: {messages}"), _PAYLOAD_HINT)

    def answer(body: bytes, csv: bool) -> Any:
        try:
            if csv:
                return server.score(parse_csv(body, max_rows=max_rows))
            return server.predict(parse_body(body), max_rows=max_rows)
        except TooManyRowsError as exc:
            return error(413, "TOO_MANY_ROWS", exc)
        except InvalidInputError as exc:
            return error(422, "INVALID_INPUT", exc)
        except TrackflowError as exc:
            return error(503, "MODEL_UNAVAILABLE", exc)

    async def invocations(request: Request) -> Any:
        body = await request.body()  # already read (and bounded) by RequestGuard
        with anyio.move_on_after(timeout) as scope:
            csv = is_csv(request.headers.get("content-type"))
            return await anyio.to_thread.run_sync(answer, body, csv, abandon_on_cancel=True)
        assert scope.cancelled_caught
        return error(503, "TIMEOUT", TimeoutError(f"The prediction did not finish within {timeout:g} s."),
                     "Send fewer rows per request, or start the server with a larger --timeout.")

    # FastAPI reads the annotation at runtime; Request is imported here, not in the module
    invocations.__annotations__ = {"request": Request, "return": Any}
    app.post("/invocations")(invocations)

    @app.get("/health")
    @app.get("/ping")
    def health() -> Any:
        try:
            return server.health()
        except TrackflowError as exc:
            return error(503, "MODEL_UNAVAILABLE", exc)

    @app.get("/metadata")
    def metadata() -> Any:
        return server.metadata()

    return app


def serve(
    uri: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    poll_interval: float = 5.0,
    allow_unsafe: bool = False,
    record: bool = True,
    log_level: str = "info",
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_rows: int | None = DEFAULT_MAX_ROWS,
    timeout: float = DEFAULT_TIMEOUT,
    token: str | None = None,
) -> None:
    """Serve ``uri`` until interrupted.

    In this order: resolve and load the model (a bad URI fails here), bind ``host:port``
    (a port in use fails here: :class:`ServeError`), print where it serves, then start
    serving and record the deployment. Listening beyond loopback without a ``token``
    prints a warning to stderr.
    """
    import uvicorn

    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise InvalidInputError(f"port must be between 1 and 65535, got {port!r}.")
    _check_limits(max_body_bytes, max_rows, timeout, token)
    server = ModelServer(uri, poll_interval=poll_interval, allow_unsafe=allow_unsafe, target=f"http://{host}:{port}",
                         record=record)
    app = create_app(server, max_body_bytes=max_body_bytes, max_rows=max_rows, timeout=timeout, token=token)
    warning = exposure_warning(host, token)
    if warning is not None:
        print(warning, file=sys.stderr, flush=True)
    served = server.current  # load before binding the port
    sock = _bind(host, port)
    try:
        what = f"{uri} (version {served.version.version})" if served.version is not None else uri
        auth = "token required" if token is not None else "no token"
        print(f"Serving {what} on http://{_url_host(host)}:{port} (POST /invocations, GET /health, GET /metadata; "
              f"{auth}); following it every {poll_interval:g} s.", flush=True)
        uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level)).run(sockets=[sock])
    finally:
        sock.close()
        server.stop()


class ServeError(TrackflowError):
    """The model server could not start (e.g. its port is in use); nothing was recorded."""


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (the server listens on it); ServeError when that is not possible."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise ServeError(f"Cannot listen on {host}:{port}: {exc}", hint="Pass a valid --host.") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: TIME_WAIT only, never a live port
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ServeError(f"Port {port} on {host} is in use by another process; nothing was started or recorded.",
                             hint="Stop the other server or pass another --port.") from None
        raise ServeError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}",
                         hint="Pass another --host or --port.") from None
    return sock
