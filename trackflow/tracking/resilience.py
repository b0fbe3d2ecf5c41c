"""Writes of tracked flows and tasks that survive a tracking-database outage.

:func:`tracked_write` calls a writing :class:`~trackflow.tracking.client.Client` method
(run creation, run updates and ends, datasets, lineage edges) for the decorators
(``trackflow.tracked.binding.write``) and autologging. When the database is unavailable
(:class:`~trackflow.exceptions.StoreError`: unreachable, locked, cannot even be opened) it
retries with exponential backoff (0.25 s doubling, at most 5 s apart) while the outage is
shorter than ``TRACKFLOW_STORE_RETRY_SECONDS`` (default 60 s; 0 = no retry; the window is
per outage, see :mod:`trackflow.tracking.outage`), then appends the write to this
process's spool file (:mod:`trackflow.tracking.spool`), logs what was spooled and that
``trackflow sync`` writes it (a WARNING for the first spooling of an outage, INFO for the
later ones), and returns as if it had been written (a
created run is returned with its client-side id, so the task keeps logging to it). So a
user's task or flow never fails because of tracking; errors the user causes (a bad name,
an unknown run) still raise. Direct ``Client`` calls are not wrapped: they keep raising
``StoreError``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

from trackflow.exceptions import StoreError
from trackflow.settings import get_settings
from trackflow.tracking.client import DEFAULT_EXPERIMENT, Client
from trackflow.tracking.entities import RunStatus, now_ms
from trackflow.tracking.fluent import get_client
from trackflow.tracking.outage import outage_for
from trackflow.tracking.spool import describe, hide_password, spool_for, warn_spooled

__all__ = ["SPOOLABLE", "offline_run", "tracked_write"]

logger = logging.getLogger("trackflow")

SPOOLABLE = frozenset({"create_run", "start_prefect_run", "update_run", "end_run", "log_dataset", "link_edges", "flush"})
"""The Client methods :func:`tracked_write` can spool (``flush`` spools what is queued);
others are retried, then raise."""

_DIRECT = frozenset({"create_run", "start_prefect_run", "log_dataset", "link_edges"})
"""Methods that write without going through the buffer: this process's spool goes first."""

_FIRST_DELAY = 0.25


def _call(method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Client, Any]:
    client = get_client()
    if method in _DIRECT and client._buffer.has_spooled():
        client.flush()  # replays this process's spool first: a new row never precedes its parent
    return client, getattr(client, method)(*args, **kwargs)


def _client() -> Client | None:
    try:
        return get_client()
    except StoreError:
        return None  # the store cannot even be opened


def _where(client: Client | None) -> tuple[str, Path, float]:
    """The tracking URI, home and retry window of the write: the client's, else the environment's."""
    settings = client.settings if client is not None else get_settings()
    uri = client.tracking_uri if client is not None else settings.tracking_uri
    return uri, settings.home, settings.store_retry_seconds


def tracked_write(method: str, *args: Any, **kwargs: Any) -> Any:
    """Call ``get_client().<method>(*args, **kwargs)``; retry, then spool, while the database
    is unavailable (see the module docstring). Never raises StoreError for
    :data:`SPOOLABLE` methods; other errors propagate."""
    try:
        return _call(method, args, kwargs)[1]
    except StoreError as exc:
        error = exc
    client = _client()
    uri, home, window = _where(client)
    outage = outage_for(uri, window)
    outage.failed()
    delay = _FIRST_DELAY
    while not outage.expired:
        time.sleep(outage.next_delay(delay))
        delay *= 2
        try:
            client, result = _call(method, args, kwargs)
            outage.succeeded()
            return result
        except StoreError as exc:
            outage.failed()
            error = exc
    if method not in SPOOLABLE:
        raise error
    return _spool(method, args, kwargs, client or _client(), error)


def _spool(method: str, args: tuple[Any, ...], kwargs: dict[str, Any], client: Client | None, error: StoreError) -> Any:
    uri, home, window = _where(client)
    spool = spool_for(home)
    buffer = client._buffer if client is not None else None
    if buffer is not None:
        buffer.spool_pending(error)  # what this process queued goes first, in order
    if method == "flush":
        return None
    result: Any = None
    if method in ("create_run", "start_prefect_run"):
        run, record = offline_run(uri, args, kwargs)
        result = (run, True) if method == "start_prefect_run" else run
    elif method in ("update_run", "end_run"):
        run_id = str(args[0] if args else kwargs["run_id"])
        if buffer is not None and buffer.is_known_run(run_id):
            return None  # it was queued, and just spooled with the rest
        record = {"uri": uri, "op": "update", "run_id": run_id, "values": _update_values(method, args, kwargs)}
    elif method == "log_dataset":
        record = _dataset_record(uri, args, kwargs)
    else:
        record = _edges_record(uri, args, kwargs)
    try:
        path = spool.append([record])
    except OSError as exc:  # the user's task still goes on: say loudly what is lost
        logger.error("trackflow: %s for %s is lost: the database is unavailable (%s) and the spool refused it: %s",
                     describe([record]), hide_password(uri), error, exc)  # fmt: skip
        return result
    if buffer is not None and record["op"] == "run":
        buffer.mark_new_run(record["values"]["id"])
        buffer.remember_params(record["values"]["id"], record["params"])
    outage = outage_for(uri, window)
    warn_spooled(uri, outage.elapsed, [record], path, error, first=outage.first_spooling())
    return result


def offline_run(uri: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The run ``create_run(*args, **kwargs)`` would make (validated the same way), without
    the database, and its spool record (``op: run``) for the database at ``uri``."""
    from trackflow.tracking.client import _new_run_values, _run_from_values, _validated_tags
    from trackflow.tracking.source import current_source
    from trackflow.tracking.validation import validate_name, validate_params

    experiment = args[0] if args else kwargs.get("experiment", DEFAULT_EXPERIMENT)
    validate_name(experiment)
    params = validate_params(kwargs.get("params") or {})
    source = current_source()
    values = _new_run_values(
        kwargs.get("run_name"), kwargs.get("parent_run_id"), kwargs.get("kind", "manual"), kwargs.get("flow_run_id"),
        kwargs.get("task_run_id"), kwargs.get("prefect_name"), source,
    )  # fmt: skip
    tags = _validated_tags(kwargs.get("tags"))
    record = {"uri": uri, "op": "run", "experiment": experiment, "values": dict(values), "params": params, "tags": tags}
    values["experiment_id"] = ""  # unknown until the record is replayed
    return _run_from_values(values, experiment, source, params, tags), record


def _update_values(method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    values = {k: v for k, v in kwargs.items() if k not in ("defer", "run_id")}
    if method == "end_run":
        status = args[1] if len(args) > 1 else values.pop("status", RunStatus.FINISHED)
        values = {"status": status, "error": values.get("error"), "end_time": now_ms()}
    if "status" in values:
        status = values["status"]
        values["status"] = status.value if isinstance(status, RunStatus) else RunStatus(str(status).upper()).value
    return values


def _dataset_record(uri: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """A dataset as a record: its fingerprint, schema and profile, never the data."""
    from trackflow.tracking.fingerprint import DatasetFingerprint, fingerprint_dataset

    run_id, data, name = (list(args) + [None, None, None])[:3]
    run_id = run_id or kwargs["run_id"]
    data = data if data is not None else kwargs["data"]
    name = name or kwargs["name"]
    fp = data if isinstance(data, DatasetFingerprint) else fingerprint_dataset(data, source=kwargs.get("source"))
    return {"uri": uri, "op": "dataset", "run_id": run_id, "name": name, "role": kwargs.get("role", "input"),
            "fingerprint": dataclasses.asdict(fp)}  # fmt: skip


def _edges_record(uri: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    from trackflow.tracking.lineage import normalize_ref

    edges = args[0] if args else kwargs["edges"]
    run_id = args[1] if len(args) > 1 else kwargs.get("run_id")
    created = now_ms()
    rows = [
        {"source": normalize_ref(s), "target": normalize_ref(t), "relation": r, "run_id": run_id, "name": None,
         "created_at": created}
        for s, t, r in edges
    ]  # fmt: skip
    return {"uri": uri, "op": "edges", "edges": rows}
