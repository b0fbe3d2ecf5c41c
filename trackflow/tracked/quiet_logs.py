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
from collections.abc import Callable, Iterable
from typing import Any
from uuid import UUID

from trackflow.dashboard.publish import artifact_url

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


def log_report_link(run_id: str, flow_name: str, *, artifact_id: UUID | None) -> None:
    """Log where the run report of ``flow_name``'s flow run is shown (never raises).

    ``artifact_id`` is the id the report was published with (no API read); when it is
    unknown (publishing failed) the line points at the report's key.
    """
    from trackflow.dashboard.run_report import report_key

    try:
        _log(report_line(run_id, artifact_url(artifact_id, key=report_key(flow_name))))
    except Exception as exc:  # noqa: BLE001 - the pointer never fails the flow
        _fallback_logger.debug("trackflow: could not log the report link of run %s: %s", run_id, exc)
