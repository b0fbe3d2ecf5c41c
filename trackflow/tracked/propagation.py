"""Tracking settings that travel with a flow run to wherever its task runs execute.

At the start of a tracked flow run, the tracking URI and artifact root it records into, its
trackflow run id and experiment, and the host it runs on are put into the in-memory
``flow_run.labels`` of Prefect's flow run context (keys ``__trackflow.*``). Prefect's task
runners (Dask, Ray) send that context to their workers (``prefect.context.serialize_context``
includes the flow run model), so a task run executing on a worker that did not inherit the
flow's ``TRACKFLOW_*`` environment reads them there: it records into the flow's store with a
Client for that URI (:func:`client_for`) and nests under the flow's run without a store
lookup. The labels are never sent to the Prefect API (Prefect writes only the labels it sets
itself) and are carried as the environment would be (the URI includes its credentials).

A worker that cannot reach the flow's store retries for the outage window
(``TRACKFLOW_STORE_RETRY_SECONDS``, as tracked writes do), then raises
:class:`~trackflow.exceptions.StoreError` naming the URI (password masked), logged once per
process and URI, rather than recording elsewhere. A SQLite URI from another host is refused: a SQLite file is local to the machine
of the flow run, a worker elsewhere would write to a file of its own.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

from trackflow.exceptions import StoreError, TrackflowError
from trackflow.settings import get_settings
from trackflow.tracking.client import Client
from trackflow.tracking.outage import outage_for
from trackflow.tracking.spool import hide_password

__all__ = ["Carried", "LABELS", "carried", "client_for", "publish", "this_host"]

logger = logging.getLogger("trackflow.flows")

LABELS = {
    "tracking_uri": "__trackflow.tracking_uri",
    "artifact_root": "__trackflow.artifact_root",
    "run_id": "__trackflow.run_id",
    "experiment": "__trackflow.experiment",
    "host": "__trackflow.host",
}
"""Field of :class:`Carried` -> its key in the flow run's labels (``__``: Prefect keeps such
internal labels out of its telemetry span attributes)."""

_clients: dict[tuple[str, str], Client] = {}
_failed: set[str] = set()
_lock = threading.Lock()


@dataclass(frozen=True)
class Carried:
    """What a flow run's task runs need to record where the flow records."""

    tracking_uri: str
    artifact_root: str
    run_id: str
    experiment: str
    host: str


def this_host() -> str:
    """The name of this machine, as recorded with runs."""
    return socket.gethostname()


def publish(flow_run: Any, carried: Carried) -> None:
    """Put ``carried`` into the in-memory labels of ``flow_run`` (Prefect's FlowRun model)."""
    labels = getattr(flow_run, "labels", None)
    if labels is None:
        labels = {}
        flow_run.labels = labels
    labels.update({key: getattr(carried, field) for field, key in LABELS.items()})


def carried(flow_run: Any) -> Carried | None:
    """What a flow run carries (None when it was not started by a tracked flow)."""
    labels = getattr(flow_run, "labels", None) or {}
    values: dict[str, str] = {}
    for field, key in LABELS.items():
        value = labels.get(key)
        if not isinstance(value, str) or not value:
            return None
        values[field] = value
    return Carried(**values)


def client_for(flow: Carried) -> Client | None:
    """The Client recording into the store of ``flow`` from this process, or None when this
    process's own settings point there already (the common case: an inherited environment).

    Raises :class:`TrackflowError` for a SQLite URI of another host and :class:`StoreError`
    (naming the URI) when the store cannot be opened.
    """
    settings = get_settings()
    if settings.tracking_uri == flow.tracking_uri and settings.artifact_root == flow.artifact_root:
        return None
    key = (flow.tracking_uri, flow.artifact_root)
    client = _clients.get(key)
    if client is not None:
        return client
    _refuse_foreign_sqlite(flow)
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = _open(flow)
            _clients[key] = client
    return client


def _refuse_foreign_sqlite(flow: Carried) -> None:
    here = this_host()
    if flow.tracking_uri.startswith("sqlite") and flow.host != here:
        raise TrackflowError(
            f"This task run executes on host {here!r}, but its flow run on {flow.host!r} records into the "
            f"SQLite database {hide_password(flow.tracking_uri)}, a file on that machine: use PostgreSQL for "
            "flows whose tasks run on other machines.",
            hint="Set TRACKFLOW_TRACKING_URI=postgresql://... where the flow runs (the workers receive it "
            "with each task run).",
        )


def _open(flow: Carried) -> Client:
    """A Client for the flow's store; an unreachable database is retried for the outage window
    (``TRACKFLOW_STORE_RETRY_SECONDS``, as tracked writes are), then reported."""
    outage = outage_for(flow.tracking_uri, get_settings().store_retry_seconds)
    delay = 0.25
    while True:
        try:
            client = Client(flow.tracking_uri, artifact_root=flow.artifact_root)
            outage.succeeded()
            return client
        except StoreError as exc:
            outage.failed()
            if outage.expired:
                raise _unreachable(flow, exc) from exc
            time.sleep(outage.next_delay(delay))
            delay *= 2
        except TrackflowError as exc:
            raise _unreachable(flow, exc) from exc


def _unreachable(flow: Carried, exc: TrackflowError) -> StoreError:
    """The error of a worker that cannot open its flow's store (logged once per URI)."""
    uri = hide_password(flow.tracking_uri)
    if uri not in _failed:
        _failed.add(uri)
        logger.error("trackflow: this worker cannot open its flow run's tracking store %s: %s", uri, exc)
    return StoreError(
        f"This worker cannot open the flow run's tracking store {uri}: {exc}",
        hint="The workers of a flow must reach its tracking database (and artifact root) themselves.",
    )
