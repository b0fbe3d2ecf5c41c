"""Prefect events about tracked runs, for automations and the Prefect event feed.

``trackflow.run.finished`` when a flow run's run ends FINISHED, ``trackflow.run.failed``
when it ends FAILED, CRASHED or KILLED. The resource is ``trackflow.run.<run id>``; the
related resources are the Prefect flow run (role ``flow-run``), the experiment (role
``experiment``) and the datasets the run's tasks used or produced (role ``dataset``, one
per fingerprint), each with a ``prefect.resource.name`` for the event feed.

Prefect rejects an event with more than 100 related resources (its
``server.events.maximum_related_resources`` setting), and when the event is emitted
inside a flow run Prefect's events worker adds the run's own context (flow, deployment,
work pool, tags) within that same maximum. So the datasets listed stop where the event
would leave fewer than :data:`CONTEXT_RESERVE` places; the payload's
``datasets_not_listed`` counts the distinct datasets left out.
"""

from __future__ import annotations

import math
from typing import Any

from trackflow.dashboard.publish import publish_event
from trackflow.tracking.entities import RunStatus

__all__ = [
    "CONTEXT_RESERVE",
    "FAILED_EVENT",
    "FINISHED_EVENT",
    "MAX_RELATED_RESOURCES",
    "build_run_event",
    "emit_run_event",
    "event_name",
]

FINISHED_EVENT = "trackflow.run.finished"
FAILED_EVENT = "trackflow.run.failed"
MAX_RELATED_RESOURCES = 100
"""Prefect's default maximum of related resources per event."""
CONTEXT_RESERVE = 10
"""Places left for the related resources Prefect adds from the run context."""


def event_name(status: RunStatus) -> str:
    """The event for a final run status."""
    return FINISHED_EVENT if status is RunStatus.FINISHED else FAILED_EVENT


def _maximum_related() -> int:
    """Prefect's configured maximum (never more than the server default is assumed)."""
    try:
        from prefect.settings import get_current_settings

        return min(int(get_current_settings().server.events.maximum_related_resources), MAX_RELATED_RESOURCES)
    except Exception:  # noqa: BLE001 - an older or unconfigured Prefect: its default
        return MAX_RELATED_RESOURCES


def _resource(resource_id: str, role: str, name: str | None) -> dict[str, str]:
    return {"prefect.resource.id": resource_id, "prefect.resource.role": role, "prefect.resource.name": name or resource_id}


def build_run_event(summary: Any, *, flow_run_id: str | None, max_related: int | None = None) -> dict[str, Any]:
    """The keyword arguments of :func:`~trackflow.dashboard.publish.publish_event` for a run.

    ``max_related`` caps the related resources (default: Prefect's maximum, at most 100,
    less :data:`CONTEXT_RESERVE`); the flow run and the experiment always come first.
    """
    run = summary.run
    cap = max_related if max_related is not None else _maximum_related() - CONTEXT_RESERVE
    related: list[dict[str, str]] = []
    if flow_run_id:
        related.append(_resource(f"prefect.flow-run.{flow_run_id}", "flow-run", run.prefect_name or run.name))
    related.append(_resource(f"trackflow.experiment.{run.experiment_id}", "experiment", run.experiment_name))
    seen: set[str] = set()
    not_listed = 0
    for _owner, used in summary.datasets:
        fingerprint = used.dataset.fingerprint
        if fingerprint in seen:
            continue
        seen.add(fingerprint)
        if len(related) >= cap:
            not_listed += 1
            continue
        related.append(_resource(f"trackflow.dataset.{fingerprint}", "dataset", used.name or used.dataset.name))
    metrics = {k: v for k, v in run.metrics.items() if math.isfinite(v)}
    return {
        "event": event_name(run.status),
        "resource_id": f"trackflow.run.{run.id}",
        "resource": {"prefect.resource.name": run.name, "trackflow.experiment": run.experiment_name},
        "related": related,
        "payload": {"status": run.status.value, "experiment": run.experiment_name, "metrics": metrics,
                    "error": run.error, "task_runs": len(summary.children), "datasets": len(seen),
                    "datasets_not_listed": not_listed},  # fmt: skip
    }


def emit_run_event(summary: Any, *, flow_run_id: str | None) -> Any:
    """Emit the run's finished/failed event; None when Prefect cannot take it."""
    return publish_event(**build_run_event(summary, flow_run_id=flow_run_id))
