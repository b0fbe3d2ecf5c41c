"""trackflow's footprint in a flow run's Prefect logs: one line per flow run, no hook chatter.

Prefect logs two INFO lines for every state hook it runs ("Running hook '<name>' in
response to entering state ..." and "Hook '<name>' finished running successfully"), on
the run loggers ``prefect.flow_runs`` and ``prefect.task_runs`` (task engine, flow engine
and the runner's crash/cancellation hook runner alike). trackflow registers hooks on every
tracked task and flow, so :func:`install` puts a :class:`HookLogFilter` on those two
loggers that drops these INFO lines for trackflow's own hooks only: a user's hooks are
still announced, and a hook's error line is never dropped.

What trackflow does write, at the end of each tracked flow run, is one INFO line through
the flow run's logger pointing at its run report (:func:`log_report_link`)::

    trackflow run <run id>: report at <PREFECT_UI_URL>/artifacts/artifact/<artifact id>
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Coroutine, Iterable
from typing import Any
from uuid import UUID

from trackflow.dashboard.publish import artifact_key, artifact_url, prefect_ui_url

__all__ = ["RUN_LOGGERS", "HookLogFilter", "install", "log_report_link", "report_line"]

RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")
"""The Prefect loggers that carry hook announcements into a run's logs."""

_HOOK_LINE = re.compile(r"(?:Running hook|Hook) '([^']*)' (?:in response to entering state|finished running successfully)")
_fallback_logger = logging.getLogger("trackflow.flows")


class HookLogFilter(logging.Filter):
    """Drops Prefect's INFO announcements of the named hooks; every other record passes."""

    def __init__(self, hook_names: Iterable[str] = ()) -> None:
        super().__init__()
        self.hook_names: set[str] = set(hook_names)

    def filter(self, record: logging.LogRecord) -> bool:
        """False for "Running hook '<ours>' ..." / "Hook '<ours>' finished ..." at INFO or below."""
        if record.levelno > logging.INFO or not isinstance(record.msg, str):
            return True
        if not record.msg.startswith(("Running hook", "Hook ")):
            return True
        try:
            found = _HOOK_LINE.match(record.getMessage())
        except Exception:  # noqa: BLE001 - a malformed record is not ours to judge
            return True
        return found is None or found.group(1) not in self.hook_names


_FILTER = HookLogFilter()


def install(hooks: Iterable[Callable[..., Any]]) -> HookLogFilter:
    """Silence Prefect's announcements of ``hooks`` (idempotent; returns the one filter)."""
    _FILTER.hook_names.update(getattr(hook, "__name__", type(hook).__name__) for hook in hooks)
    for name in RUN_LOGGERS:
        run_logger = logging.getLogger(name)
        if _FILTER not in run_logger.filters:
            run_logger.addFilter(_FILTER)
    return _FILTER


def report_line(run_id: str, url: str) -> str:
    """trackflow's one line in a flow run's logs."""
    return f"trackflow run {run_id}: report at {url}"


def _log(line: str) -> None:
    try:
        from prefect.logging import get_run_logger

        get_run_logger().info(line)
    except Exception:  # noqa: BLE001 - outside a run (or no Prefect logging): our own logger
        _fallback_logger.info(line)


def _artifact_filter(key: str, flow_run_id: str) -> dict[str, Any]:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    found_by = ArtifactFilter(key=ArtifactFilterKey(any_=[artifact_key(key)]), flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(flow_run_id)]))
    return {"artifact_filter": found_by, "sort": ArtifactSort.CREATED_DESC, "limit": 1}


def _report_id(key: str, flow_run_id: str | None) -> UUID | None:
    if not flow_run_id or prefect_ui_url() is None:
        return None
    try:
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            found = client.read_artifacts(**_artifact_filter(key, flow_run_id))
        return found[0].id if found else None
    except Exception as exc:  # noqa: BLE001 - the line then points at the key
        _fallback_logger.debug("trackflow: could not look up artifact %r: %s", key, exc)
        return None


async def _areport_id(key: str, flow_run_id: str | None) -> UUID | None:
    if not flow_run_id or prefect_ui_url() is None:
        return None
    try:
        from prefect.client.orchestration import get_client

        async with get_client() as client:
            found = await client.read_artifacts(**_artifact_filter(key, flow_run_id))
        return found[0].id if found else None
    except Exception as exc:  # noqa: BLE001
        _fallback_logger.debug("trackflow: could not look up artifact %r: %s", key, exc)
        return None


async def _log_later(run_id: str, key: str, flow_run_id: str | None) -> None:
    try:
        _log(report_line(run_id, artifact_url(await _areport_id(key, flow_run_id), key=key)))
    except Exception as exc:  # noqa: BLE001 - the pointer never fails the flow
        _fallback_logger.debug("trackflow: could not log the report link of run %s: %s", run_id, exc)


def log_report_link(run_id: str, flow_name: str, flow_run_id: str | None, *, deferred: bool = False) -> list[Coroutine[Any, Any, None]]:
    """Log where the run report of ``flow_name``'s flow run ``flow_run_id`` is shown (never raises).

    ``deferred`` (an async flow whose publications are still to be awaited): nothing is
    logged now; the returned coroutine logs the line once awaited after them.
    """
    from trackflow.dashboard.run_report import report_key

    key = report_key(flow_name)
    if deferred:
        return [_log_later(run_id, key, flow_run_id)]
    try:
        _log(report_line(run_id, artifact_url(_report_id(key, flow_run_id), key=key)))
    except Exception as exc:  # noqa: BLE001 - the pointer never fails the flow
        _fallback_logger.debug("trackflow: could not log the report link of run %s: %s", run_id, exc)
    return []
