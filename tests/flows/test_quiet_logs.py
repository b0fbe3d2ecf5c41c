"""trackflow's footprint in a flow run's Prefect logs: no hook announcements, one report line."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.logging.handlers import APILogHandler

import trackflow as tf
from trackflow import flow, task
from trackflow.tracked import quiet_logs

_TRACKFLOW_HOOKS = ("_task_completed", "_task_failed", "_flow_failed", "_flow_crashed", "_flow_cancelled")


@pytest.fixture(autouse=True)
def _info_run_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """The session logs at WARNING; these tests need the runs' INFO lines sent to the API."""
    for name in quiet_logs.RUN_LOGGERS:
        caplog.set_level(logging.INFO, logger=name)
    yield


def my_hook(task: Any, task_run: Any, state: Any) -> None:
    """A user's own completion hook: Prefect still announces it."""


@task
def load(n: int) -> list[int]:
    return list(range(n))


@task(on_completion=[my_hook])
def double(values: list[int]) -> list[int]:
    return [2 * v for v in values]


@task
def total(values: list[int]) -> dict[str, float]:
    return {"total": float(sum(values))}


@flow(name="quiet-flow", experiment="quiet")
def quiet_flow(n: int = 4) -> dict[str, float]:
    return total(double(load(n)))


@task
async def atotal(n: int) -> dict[str, float]:
    return {"total": float(n)}


@flow(name="quiet-async-flow", experiment="quiet-async")
async def quiet_async_flow(n: int = 3) -> dict[str, float]:
    return await atotal(n)


@task
def explode(n: int) -> int:
    raise ValueError(f"no {n}")


@flow(name="quiet-failing-flow", experiment="quiet-failing")
def quiet_failing_flow() -> int:
    return explode(load(2)[0])


def _flow_run_logs(flow_run_id: str, *, until: str, timeout: float = 30.0) -> list[str]:
    """The flow run's log lines (its task runs' included), once ``until`` is among them."""
    APILogHandler().flush()  # send what the log worker still holds
    deadline = time.monotonic() + timeout
    messages: list[str] = []
    while time.monotonic() < deadline:
        try:
            with get_client(sync_client=True) as client:
                logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
            messages = [log.message for log in logs]
            if any(until in m for m in messages):
                return messages
        except Exception:  # noqa: BLE001 - SQLite "database is locked" answers 503 for a moment
            pass
        time.sleep(0.5)
    return messages


def _report_id(flow_name: str, flow_run_id: str) -> str:
    with get_client(sync_client=True) as client:
        (report,) = client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=[f"trackflow-run-report-{flow_name}"]), flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))  # fmt: skip
    return str(report.id)


def _check_logs(flow_name: str, experiment: str) -> list[str]:
    (run,) = tf.Client().search_runs(experiment, "attributes.kind = 'flow'")
    assert run.flow_run_id is not None
    messages = _flow_run_logs(run.flow_run_id, until="report at")
    assert messages, "no logs of the flow run reached the Prefect API"
    assert not [m for m in messages if any(name in m for name in _TRACKFLOW_HOOKS)], messages
    ours = [m for m in messages if m.startswith("trackflow")]
    assert len(ours) == 1, messages
    (line,) = ours
    report = re.fullmatch(rf"trackflow run {run.id}: report at (\S+)/artifacts/artifact/(\S+)", line)
    assert report is not None, line
    assert report.group(2) == _report_id(flow_name, run.flow_run_id)
    assert report.group(1).startswith("http://127.0.0.1:")
    return messages


def test_no_hook_lines_and_one_report_line() -> None:
    assert quiet_flow() == {"total": 12.0}
    messages = _check_logs("quiet-flow", "quiet")
    assert any(m.startswith("Running hook 'my_hook' in response to entering state 'Completed'") for m in messages)
    assert "Hook 'my_hook' finished running successfully" in messages


def test_async_flow_logs_its_report_line_after_publishing() -> None:
    assert asyncio.run(quiet_async_flow()) == {"total": 3.0}
    _check_logs("quiet-async-flow", "quiet-async")


def test_failed_flow_logs_no_failure_hooks_and_one_report_line() -> None:
    state = quiet_failing_flow(return_state=True)
    assert state.is_failed()
    messages = _check_logs("quiet-failing-flow", "quiet-failing")
    assert any("ValueError: no 0" in m for m in messages)  # Prefect's own failure lines stay


def test_filter_drops_only_trackflow_hook_announcements() -> None:
    hook_filter = quiet_logs.install([])

    def record(message: str, level: int = logging.INFO, *args: Any) -> logging.LogRecord:
        return logging.LogRecord("prefect.task_runs", level, __file__, 1, message, args or None, None)

    assert not hook_filter.filter(record("Running hook '_task_completed' in response to entering state 'Completed'"))
    assert not hook_filter.filter(record("Hook '_flow_failed' finished running successfully"))
    assert not hook_filter.filter(record("Running hook %r in response to entering state %r", logging.INFO, "_flow_crashed", "Crashed"))
    assert hook_filter.filter(record("Running hook 'my_hook' in response to entering state 'Completed'"))
    assert hook_filter.filter(record("Hook 'my_hook' finished running successfully"))
    assert hook_filter.filter(record("An error was encountered while running hook '_task_completed'", logging.ERROR))
    assert hook_filter.filter(record("Finished in state Completed()"))
    for name in quiet_logs.RUN_LOGGERS:
        assert logging.getLogger(name).filters.count(hook_filter) == 1
