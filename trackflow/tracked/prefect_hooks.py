"""The Prefect side of the tracking hooks: the current flow run and where events go.

Importing this module registers, with :mod:`trackflow.tracking.hooks`,

* :func:`prefect_flow_run` - the flow run from Prefect's run context (a flow run, or the
  flow run of the current task run); None when Prefect is not loaded or outside a run;
* :func:`publish_to_prefect` - events go to the Prefect event bus through
  :func:`trackflow.dashboard.publish.publish_event` (looked up on each call).

``trackflow/__init__.py`` imports it, so the registry records flow runs and publishes its
events whenever trackflow is imported. It imports Prefect only inside a call, and only when
Prefect is already loaded: ``import trackflow`` stays fast.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

from trackflow.tracking.hooks import FlowRun, register_event_publisher, register_flow_run_lookup

__all__ = ["prefect_flow_run", "publish_to_prefect"]


def prefect_flow_run() -> FlowRun | None:
    """The Prefect flow run this code runs in, or None (never imports Prefect itself)."""
    if "prefect.context" not in sys.modules:  # no Prefect loaded: no run context
        return None
    try:
        from prefect.context import FlowRunContext, TaskRunContext

        flow_ctx = FlowRunContext.get()
        if flow_ctx is not None and flow_ctx.flow_run is not None:
            return FlowRun(str(flow_ctx.flow_run.id), flow_ctx.flow_run.name or None)
        task_ctx = TaskRunContext.get()
        if task_ctx is not None and task_ctx.task_run.flow_run_id is not None:
            return FlowRun(str(task_ctx.task_run.flow_run_id))
    except Exception:  # noqa: BLE001 - a broken context is no flow run
        return None
    return None


def publish_to_prefect(
    event: str,
    *,
    resource_id: str,
    resource: Mapping[str, str] | None = None,
    related: Sequence[Mapping[str, str]] = (),
    payload: Mapping[str, Any] | None = None,
) -> Any:
    """Emit ``event`` as a Prefect event (publishing never raises)."""
    from trackflow.dashboard import publish

    return publish.publish_event(event, resource_id=resource_id, resource=resource, related=related, payload=payload)


register_flow_run_lookup(prefect_flow_run)
register_event_publisher(publish_to_prefect)
