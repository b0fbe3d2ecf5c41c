"""The end of a tracked flow run: reconcile, roll up, report, beside Prefect's own end.

When the final attempt of a flow run's function returns (or raises), :func:`finish_flow`
ends its task runs Prefect says are over, rolls their metrics up into the flow run, reads
the run report's summary and emits the ``trackflow.run.*`` event. Publishing the report and
the task-metrics table to Prefect (one API call each) then runs on two background threads
with the flow run's own Prefect client, while Prefect persists the result and proposes the
final state; trackflow's final-state hook (:func:`join`, first in the flow's hook lists)
waits for both before the flow call returns and logs the line pointing at the report.
So the report is there when the flow call returns, as before, at the cost of the slower of
the two calls overlapping Prefect's own instead of both following it.

Async flow runs publish on their event loop: both calls are awaited together when the flow
function's ``async with`` exits, then the line is logged.
A publication no hook joined (a hook Prefect did not run) is joined before more than
:data:`MAX_UNJOINED` accumulate, and at interpreter exit.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from trackflow.tracked import quiet_logs
from trackflow.tracking.fluent import get_client

if TYPE_CHECKING:
    from trackflow.tracked.binding import RunScope

__all__ = ["JOIN_TIMEOUT_SECONDS", "MAX_UNJOINED", "finish_flow", "join"]

logger = logging.getLogger("trackflow.flows")

JOIN_TIMEOUT_SECONDS = 120.0
"""How long a final-state hook waits for the report's publication (Prefect's own client retries inside it)."""
MAX_UNJOINED = 64
"""Publications no hook joined that may be in flight before the oldest is waited for."""

_pool: ThreadPoolExecutor | None = None
_pending: dict[str, _Publishing] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class _Publishing:
    """The report and table of one flow run, being published."""

    run_id: str
    flow_name: str
    report: Future[Any]
    table: Future[Any]


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="trackflow-report")
            atexit.register(_join_all)
        return _pool


def finish_flow(scope: RunScope) -> list[Any]:
    """The end of a flow run's final attempt (never raises). Returns what an async flow awaits."""
    try:
        from trackflow.dashboard.events import emit_run_event
        from trackflow.dashboard.publish import artifact_target
        from trackflow.dashboard.run_report import collect_summary, publish_metrics_table, publish_report
        from trackflow.tracking.rollup import roll_up_into

        _reconcile_children(scope)
        children = get_client().get_child_runs(scope.run_id)
        roll_up_into(get_client(), scope.run_id, children=children)
        summary = collect_summary(scope.run_id, children=children)
        emit_run_event(summary, flow_run_id=scope.prefect_id)
        target = artifact_target()
        if target is not None and _is_async(target.client):
            report = publish_report(summary, flow_name=scope.label, target=target)
            table = publish_metrics_table(summary, flow_name=scope.label, target=target)
            return [_publish_async(report, table, scope.run_id, scope.label)]
        pool = _executor()
        publishing = _Publishing(
            run_id=scope.run_id,
            flow_name=scope.label,
            report=pool.submit(publish_report, summary, flow_name=scope.label, target=target),
            table=pool.submit(publish_metrics_table, summary, flow_name=scope.label, target=target),
        )
        _remember(scope.prefect_id, publishing)
        return []
    except Exception as exc:
        logger.warning("trackflow: could not publish the dashboard of run %s: %s", scope.run_id, exc)
        return []


def join(flow_run_id: Any) -> None:
    """Wait for the report of the flow run ``flow_run_id`` to be published, then log its line
    (a final-state hook; nothing to do when no publication is in flight; never raises)."""
    with _lock:
        publishing = _pending.pop(str(flow_run_id), None)
    if publishing is not None:
        _complete(publishing)


def _remember(flow_run_id: str, publishing: _Publishing) -> None:
    with _lock:
        _pending[flow_run_id] = publishing
        overdue = [_pending.pop(key) for key in list(_pending)[: max(len(_pending) - MAX_UNJOINED, 0)]]
    for item in overdue:
        _complete(item)


def _complete(publishing: _Publishing) -> None:
    report_id = _result(publishing.report)
    _result(publishing.table)
    quiet_logs.log_report_link(
        publishing.run_id, publishing.flow_name, artifact_id=report_id if isinstance(report_id, UUID) else None
    )


def _result(future: Future[Any]) -> Any:
    try:
        return future.result(timeout=JOIN_TIMEOUT_SECONDS)
    except Exception as exc:  # publish_* log their own failures; a timeout lands here
        logger.warning("trackflow: could not publish to Prefect: %s", exc)
        return None


def _join_all() -> None:
    with _lock:
        left = list(_pending.values())
        _pending.clear()
    for publishing in left:
        _complete(publishing)


def _is_async(client: Any) -> bool:
    from prefect.client.orchestration import PrefectClient

    return isinstance(client, PrefectClient)


async def _publish_async(report: Any, table: Any, run_id: str, flow_name: str) -> None:
    """Await an async run's two publications together, then log the line pointing at its report."""
    results = await asyncio.gather(*(_awaited(item) for item in (report, table)))
    quiet_logs.log_report_link(run_id, flow_name, artifact_id=results[0] if isinstance(results[0], UUID) else None)


async def _awaited(item: Any) -> Any:
    try:
        return await item if asyncio.iscoroutine(item) or isinstance(item, asyncio.Future) else item
    except Exception as exc:
        logger.warning("trackflow: could not publish to Prefect: %s", exc)
        return None


def _reconcile_children(scope: RunScope) -> None:
    """End this flow run's task runs left RUNNING whose Prefect task runs are final (a lost end)."""
    from trackflow.tracked.reconcile import reconcile_flow_children

    try:
        reconcile_flow_children(get_client(), scope.prefect_id)
    except Exception as exc:
        logger.warning("trackflow: could not reconcile the task runs of flow run %s: %s", scope.prefect_id, exc)
