"""Serve a registered model over HTTP (FastAPI + uvicorn), following its alias or stage.

``trackflow serve models:/churn-clf@production --port 8000`` answers:

``POST /invocations``
    JSON records (``[{...}, ...]`` or ``{"dataframe_records": [...]}``), a split-orient
    frame (``{"dataframe_split": {"columns": [...], "data": [[...]]}}``) or MLflow's
    ``{"instances": ...}`` / ``{"inputs": ...}``; returns ``{"predictions": [...]}``.
    Input is checked against the model's signature: a problem is a 422 whose JSON body
    (``error_code``, ``message``, ``hint``) names the column.
``GET /health`` (and ``/ping``)
    ``{"status": "ok", "model": ..., "version": ...}``.
``GET /metadata``
    name, version, stage, aliases, run, signature and when the version was loaded.

The server follows the URI: a background thread re-resolves it every ``poll_interval``
seconds and, when it names another version, loads that version (verified against its
recorded sha256) and swaps it in with one reference assignment. A request reads the
reference once, so requests in flight finish on the version they started with and never
fail because of a swap; a version that cannot be loaded is logged and the old one keeps
serving. ``models:/<name>@<stage>`` follows the stage when no alias of that name exists.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from trackflow.exceptions import InvalidInputError, NotFoundError, TrackflowError

if TYPE_CHECKING:
    from trackflow.registry.entities import ModelVersion
    from trackflow.registry.model_format import PackagedModel
    from trackflow.tracking.client import Client

__all__ = ["ServedModel", "ModelServer", "parse_payload", "create_app", "serve"]

logger = logging.getLogger("trackflow.serving")
_PAYLOAD_HINT = (
    'Send [{"col": value, ...}, ...], {"dataframe_records": [...]} or '
    '{"dataframe_split": {"columns": [...], "data": [[...], ...]}}.'
)


@dataclass(frozen=True)
class ServedModel:
    """A loaded model and the registry version it came from (None for ``runs:/`` URIs)."""

    model: PackagedModel
    version: ModelVersion | None
    loaded_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    deployment_id: str | None = None


def parse_payload(payload: Any) -> Any:
    """The model input in a request body (records, split frame, instances); 422-worthy errors raise."""
    import pandas as pd

    if isinstance(payload, list):
        return payload
    if not isinstance(payload, dict):
        raise InvalidInputError(f"The request body must be a JSON list or object, got {type(payload).__name__}.",
                                hint=_PAYLOAD_HINT)
    keys = [k for k in ("dataframe_records", "dataframe_split", "instances", "inputs") if k in payload]
    if len(keys) != 1:
        found = ", ".join(sorted(map(str, payload))) or "no keys"
        raise InvalidInputError(f"The request body needs exactly one of dataframe_records, dataframe_split, "
                                f"instances or inputs (found {found}).", hint=_PAYLOAD_HINT)
    value = payload[keys[0]]
    if keys[0] != "dataframe_split":
        if not isinstance(value, (list, dict)):
            raise InvalidInputError(f"{keys[0]} must be a list of records, got {type(value).__name__}.",
                                    hint=_PAYLOAD_HINT)
        return value
    if not isinstance(value, dict) or not isinstance(value.get("data"), list):
        raise InvalidInputError("dataframe_split must be an object with 'columns' and a 'data' list of rows.",
                                hint=_PAYLOAD_HINT)
    columns = value.get("columns")
    if columns is not None and (not isinstance(columns, list) or not all(isinstance(c, str) for c in columns)):
        raise InvalidInputError("dataframe_split.columns must be a list of column names.", hint=_PAYLOAD_HINT)
    rows = value["data"]
    if not rows or not all(isinstance(r, list) for r in rows):
        raise InvalidInputError("dataframe_split.data must be a non-empty list of rows (lists).", hint=_PAYLOAD_HINT)
    widths = {len(r) for r in rows}
    if len(widths) != 1 or (columns is not None and widths != {len(columns)}):
        expected = f"{len(columns)} values (one per column)" if columns is not None else "the same number of values"
        raise InvalidInputError(f"Every row of dataframe_split.data must have {expected}.", hint=_PAYLOAD_HINT)
    return rows if columns is None else pd.DataFrame(rows, columns=columns, index=value.get("index"))


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

    def predict(self, payload: Any) -> dict[str, Any]:
        """``{"predictions": [...]}`` for a request body; bad input raises InvalidInputError."""
        served = self.current  # read the reference once: a swap never affects this request
        data = parse_payload(payload)
        try:
            predictions = served.model.predict(data)
        except InvalidInputError:
            raise
        except (ValueError, KeyError, TypeError) as exc:  # the estimator refused the frame
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


def create_app(server: ModelServer, *, poll: bool = True) -> Any:
    """The FastAPI app of ``server``; with ``poll`` it follows the URI while running."""
    from fastapi import Body, FastAPI
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

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

    def error(status: int, code: str, exc: Exception, hint: str | None = None) -> JSONResponse:
        return JSONResponse(status_code=status, content={"error_code": code, "message": str(exc),
                                                         "hint": getattr(exc, "hint", None) or hint})

    @app.exception_handler(RequestValidationError)
    async def _bad_body(_request: Any, exc: RequestValidationError) -> JSONResponse:
        messages = "; ".join(str(e.get("msg")) for e in exc.errors())
        return error(422, "INVALID_INPUT", ValueError(f"The request body is not valid JSON: {messages}"), _PAYLOAD_HINT)

    @app.post("/invocations")
    def invocations(payload: Any = Body(...)) -> Any:  # noqa: B008 - FastAPI's idiom
        try:
            return server.predict(payload)
        except InvalidInputError as exc:
            return error(422, "INVALID_INPUT", exc)
        except TrackflowError as exc:
            return error(503, "MODEL_UNAVAILABLE", exc)

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
) -> None:
    """Serve ``uri`` until interrupted (loads the model first, so a bad URI fails fast)."""
    import uvicorn

    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise InvalidInputError(f"port must be between 1 and 65535, got {port!r}.")
    server = ModelServer(uri, poll_interval=poll_interval, allow_unsafe=allow_unsafe, target=f"http://{host}:{port}",
                         record=record)
    server.current  # noqa: B018 - load before binding the port
    try:
        uvicorn.Server(uvicorn.Config(create_app(server), host=host, port=port, log_level=log_level)).run()
    finally:
        server.stop()
