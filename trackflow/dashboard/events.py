"""Prefect events about tracked runs, for automations and the Prefect event feed.

``trackflow.run.finished`` when a flow run's run ends FINISHED, ``trackflow.run.failed``
when it ends FAILED, CRASHED or KILLED. The resource is ``trackflow.run.<run id>``; the
related resources are the Prefect flow run (role ``flow-run``), the experiment (role
``experiment``) and every dataset the run's tasks used or produced (role ``dataset``).
"""

from __future__ import annotations

import math
from typing import Any

from trackflow.dashboard.publish import publish_event
from trackflow.tracking.entities import RunStatus

__all__ = ["FAILED_EVENT", "FINISHED_EVENT", "build_run_event", "emit_run_event", "event_name"]

FINISHED_EVENT = "trackflow.run.finished"
FAILED_EVENT = "trackflow.run.failed"


def event_name(status: RunStatus) -> str:
    """The event for a final run status."""
    return FINISHED_EVENT if status is RunStatus.FINISHED else FAILED_EVENT


def build_run_event(summary: Any, *, flow_run_id: str | None) -> dict[str, Any]:
    """The keyword arguments of :func:`~trackflow.dashboard.publish.publish_event` for a run."""
    run = summary.run
    related: list[dict[str, str]] = []
    if flow_run_id:
        related.append({"prefect.resource.id": f"prefect.flow-run.{flow_run_id}", "prefect.resource.role": "flow-run"})
    related.append({"prefect.resource.id": f"trackflow.experiment.{run.experiment_id}",
                    "prefect.resource.role": "experiment", "prefect.resource.name": run.experiment_name})  # fmt: skip
    seen: set[str] = set()
    for _owner, used in summary.datasets:
        if used.dataset.fingerprint not in seen:
            seen.add(used.dataset.fingerprint)
            related.append({"prefect.resource.id": f"trackflow.dataset.{used.dataset.fingerprint}",
                            "prefect.resource.role": "dataset", "prefect.resource.name": used.name})  # fmt: skip
    metrics = {k: v for k, v in run.metrics.items() if math.isfinite(v)}
    return {
        "event": event_name(run.status),
        "resource_id": f"trackflow.run.{run.id}",
        "resource": {"prefect.resource.name": run.name, "trackflow.experiment": run.experiment_name},
        "related": related,
        "payload": {"status": run.status.value, "experiment": run.experiment_name, "metrics": metrics,
                    "error": run.error, "task_runs": len(summary.children)},  # fmt: skip
    }


def emit_run_event(summary: Any, *, flow_run_id: str | None) -> Any:
    """Emit the run's finished/failed event; None when Prefect cannot take it."""
    return publish_event(**build_run_event(summary, flow_run_id=flow_run_id))
