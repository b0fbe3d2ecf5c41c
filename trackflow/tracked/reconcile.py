"""Orphaned runs: end RUNNING runs whose Prefect run is over or whose process is gone.

A run stays RUNNING when the execution that should end it never does: a worker killed
with its write queue, a Ray worker shut down, a flow process that crashed. Two witnesses
say such a run is over:

* **Prefect**, when its API is reachable: the run's Prefect task run (``task_run_id``)
  or, for a flow's own run, its flow run (``flow_run_id``) is in a final state. The run
  ends with the mirrored status (:data:`PREFECT_FINAL_STATUS`: COMPLETED -> FINISHED,
  FAILED -> FAILED, CRASHED -> CRASHED, CANCELLED -> KILLED). A Prefect run that is not
  found, not final, or an API that cannot be reached is *unknown*, never an error.
* **The process**, when the run was started on this host: the process id recorded at its
  start (``Run.pid`` on ``Run.host``) no longer exists (or is a zombie). The run ends
  CRASHED. Runs of other hosts are judged by Prefect only.

A run no witness speaks for is left alone. The error text of an ended run says it was
reconciled, and why. :func:`reconcile_runs` is ``trackflow runs reconcile``;
:func:`reconcile_flow_children` is what a flow calls at its end for its own task runs.
Prefect is imported only when a run has a Prefect id to ask about.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trackflow.exceptions import InvalidInputError
from trackflow.tracking.entities import Run, RunStatus, now_ms

if TYPE_CHECKING:
    from trackflow.tracking.client import Client

__all__ = [
    "PREFECT_FINAL_STATUS",
    "PrefectState",
    "ReconcileResult",
    "Reconciled",
    "parse_age",
    "process_gone",
    "reconcile_flow_children",
    "reconcile_runs",
]

logger = logging.getLogger("trackflow.flows")

PREFECT_FINAL_STATUS: dict[str, RunStatus] = {
    "COMPLETED": RunStatus.FINISHED,
    "FAILED": RunStatus.FAILED,
    "CRASHED": RunStatus.CRASHED,
    "CANCELLED": RunStatus.KILLED,
}
"""The trackflow status a run ends with, by the type of its Prefect run's final state."""

_AGE = re.compile(r"\s*(\d{1,9})\s*([smhd])\s*", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_MAX_ERROR = 8000
_PAGE = 1000
_PREFECT_BATCH = 200  # ids per Prefect read: the API's default page size
_POLL_SECONDS = 0.2


def parse_age(text: str) -> timedelta:
    """An age such as ``30s``, ``10m``, ``2h`` or ``1d`` as a timedelta.

    Raises InvalidInputError for anything else (no unit, a negative or fractional number,
    an unknown unit).
    """
    match = _AGE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidInputError(
            f"Invalid age {text!r}: expected a whole number and a unit s, m, h or d, such as 30s, 10m, 2h or 1d."
        )
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()])


@dataclass(frozen=True)
class PrefectState:
    """The state of a Prefect flow or task run as its API reported it."""

    type: str
    """The state type, e.g. ``COMPLETED``."""
    name: str
    message: str | None = None

    @property
    def is_final(self) -> bool:
        """True for the state types that end a run (see :data:`PREFECT_FINAL_STATUS`)."""
        return self.type in PREFECT_FINAL_STATUS


@dataclass(frozen=True)
class Reconciled:
    """A RUNNING run that was ended (or, in a dry run, would be) and why."""

    run_id: str
    name: str
    experiment: str
    kind: str
    started: datetime
    status: RunStatus
    """The status it was ended with."""
    reason: str
    """The error text written with it."""
    basis: str
    """``prefect`` (its Prefect run is final) or ``process`` (its process is gone)."""


class ReconcileResult(list[Reconciled]):
    """What was ended (a list of :class:`Reconciled`), with what was looked at."""

    checked: int = 0
    """How many RUNNING runs were considered."""
    dry_run: bool = False
    prefect_problem: str | None = None
    """Why Prefect's API could not be asked (None when it answered or was not needed)."""


def process_gone(host: str | None, pid: int | None) -> bool:
    """True when the process ``pid`` was started on this host and no longer runs.

    False when it is alive, unknown (no pid), or on another host (nothing to look at).
    """
    if host is None or pid is None or pid <= 0 or host != socket.gethostname():
        return False
    return not _alive(pid)


def _alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would end the process on Windows: unknown counts as alive
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: someone else's process, alive
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """True for a process that exited and was not reaped (Linux ``/proc``; elsewhere: cannot tell)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _prefect_ref(run: Run) -> tuple[str, uuid.UUID] | None:
    """Which Prefect run to ask about: the task run of a task, the flow run of a flow's run."""
    if run.task_run_id:
        found = _uuid(run.task_run_id)
        return ("task", found) if found else None
    if run.kind == "flow" and run.flow_run_id:
        found = _uuid(run.flow_run_id)
        return ("flow", found) if found else None
    return None


class _PrefectStates:
    """Reads the states of Prefect runs in batches; once the API fails, every answer is unknown."""

    def __init__(self, *, configured_api_only: bool = False) -> None:
        self.problem: str | None = None
        if configured_api_only and not _api_configured():
            # without PREFECT_API_URL, Prefect's client would start a temporary server of its
            # own (tens of seconds), which knows none of the runs
            self.problem = "PREFECT_API_URL is not set, so Prefect's run states were not asked"

    def read(self, runs: Sequence[Run]) -> dict[str, PrefectState]:
        """The states Prefect knows, by trackflow run id (runs it does not know are absent)."""
        refs = {run.id: ref for run in runs if (ref := _prefect_ref(run)) is not None}
        if not refs or self.problem is not None:
            return {}
        tasks = [ref[1] for ref in refs.values() if ref[0] == "task"]
        flows = [ref[1] for ref in refs.values() if ref[0] == "flow"]
        try:
            from prefect.client.orchestration import get_client

            with get_client(sync_client=True) as prefect:
                states = _read_states(prefect, "task", tasks) | _read_states(prefect, "flow", flows)
        except Exception as exc:  # unreachable or failing API: unknown, not an error
            self.problem = f"{type(exc).__name__}: {exc}"[:300]
            logger.warning("trackflow: Prefect's API could not be asked about run states (%s)", self.problem)
            return {}
        return {run_id: states[ref[1]] for run_id, ref in refs.items() if ref[1] in states}


def _api_configured() -> bool:
    """True when a Prefect API URL is set (a server or Prefect Cloud this process reports to)."""
    from prefect.settings import get_current_settings

    return bool(get_current_settings().api.url)


def _read_states(prefect: Any, kind: str, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, PrefectState]:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, TaskRunFilter, TaskRunFilterId

    found: dict[uuid.UUID, PrefectState] = {}
    for start in range(0, len(ids), _PREFECT_BATCH):
        batch = list(ids[start : start + _PREFECT_BATCH])
        if kind == "task":
            runs = prefect.read_task_runs(task_run_filter=TaskRunFilter(id=TaskRunFilterId(any_=batch)), limit=len(batch))
        else:
            runs = prefect.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=batch)), limit=len(batch))
        for run in runs:
            if run.state is not None:
                found[run.id] = PrefectState(type=run.state.type.value, name=run.state.name, message=run.state.message)
    return found


def _verdict(run: Run, state: PrefectState | None) -> tuple[RunStatus, str, str] | None:
    """(status, reason, basis) when a witness says the run is over, else None."""
    if state is not None and state.is_final:
        ref = _prefect_ref(run)
        what = f"Prefect {ref[0]} run {ref[1]}" if ref else "its Prefect run"
        detail = f": {state.message}" if state.message else ""
        reason = f"Reconciled from Prefect's state: {what} is {state.type} ({state.name}{detail})."
        return PREFECT_FINAL_STATUS[state.type], reason, "prefect"
    if process_gone(run.host, run.pid):
        return RunStatus.CRASHED, f"Reconciled: process {run.pid} on host {run.host} is gone.", "process"
    return None


def _end(client: Client, run: Run, status: RunStatus, reason: str) -> bool:
    """End ``run`` unless it ended since it was read (its own execution won); True when ended here."""
    current = client.get_run(run.id)
    if current.status is not RunStatus.RUNNING:
        return False
    text = f"{reason} Last error: {current.error}" if current.error else reason
    client.end_run(run.id, status, error=text[:_MAX_ERROR])
    return True


def _record(run: Run, status: RunStatus, reason: str, basis: str) -> Reconciled:
    return Reconciled(
        run_id=run.id, name=run.name, experiment=run.experiment_name, kind=run.kind, started=run.start_time,
        status=status, reason=reason, basis=basis,
    )  # fmt: skip


def _running(client: Client, filter_: str, experiment: str | None) -> list[Run]:
    """Every RUNNING run the filter selects, oldest first (all pages read before anything changes)."""
    runs: list[Run] = []
    token: str | None = None
    while True:
        page = client.search_runs(experiment, filter_, order_by="start_time ASC", max_results=_PAGE, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _age(value: timedelta | str) -> timedelta:
    age = parse_age(value) if isinstance(value, str) else value
    if not isinstance(age, timedelta) or age < timedelta(0):
        raise InvalidInputError(f"older_than must be a non-negative timedelta or an age such as '10m', got {value!r}.")
    return age


def reconcile_runs(
    client: Client,
    *,
    older_than: timedelta | str = timedelta(minutes=10),
    dry_run: bool = False,
    experiment: str | None = None,
) -> ReconcileResult:
    """End the RUNNING runs started more than ``older_than`` ago that Prefect or their process says are over.

    ``older_than`` is a timedelta or an age such as ``"10m"``; ``experiment`` limits the
    runs to one experiment (NotFoundError when it does not exist). Each run whose Prefect
    task/flow run is final ends with the mirrored status; else one started on this host
    whose process is gone ends CRASHED; every other run is left alone. With ``dry_run``
    nothing is written. Returns what was (or would be) ended.
    """
    age = _age(older_than)
    if experiment is not None:
        client.get_experiment_by_name(experiment)  # NotFoundError naming the known experiments
    cutoff = now_ms() - int(age.total_seconds() * 1000)
    runs = _running(client, f"status = 'RUNNING' and start_time < {cutoff}", experiment)
    prefect = _PrefectStates(configured_api_only=True)
    states = prefect.read(runs)
    result = ReconcileResult()
    result.checked, result.dry_run = len(runs), dry_run
    for run in runs:
        verdict = _verdict(run, states.get(run.id))
        if verdict is not None and (dry_run or _end(client, run, verdict[0], verdict[1])):
            result.append(_record(run, *verdict))
    result.prefect_problem = prefect.problem
    return result


def reconcile_flow_children(client: Client, flow_run_id: str | uuid.UUID, *, wait: float = 2.0) -> ReconcileResult:
    """End the task runs of a flow run still RUNNING whose Prefect task runs are final.

    A flow calls this at its end, with the Client its runs were written through (its
    queued values are flushed first). Prefect records task-run states shortly after the
    tasks finish, so task runs Prefect does not yet show final are asked about again for
    up to ``wait`` seconds (only when some are left RUNNING; none costs one store read).
    Process ids are not looked at here; a task run Prefect does not know as final is left
    to ``trackflow runs reconcile``. Store errors propagate (the caller logs them).
    """
    key = _uuid(str(flow_run_id))
    if key is None:
        raise InvalidInputError(f"flow_run_id must be a Prefect flow run id (a UUID), got {flow_run_id!r}.")
    pending = _running(client, f"flow_run_id = '{key}' and kind = 'task' and status = 'RUNNING'", None)
    prefect = _PrefectStates()
    result = ReconcileResult()
    result.checked = len(pending)
    deadline = time.monotonic() + max(wait, 0.0)
    while pending:
        states = prefect.read(pending)
        left = []
        for run in pending:
            state = states.get(run.id)
            verdict = _verdict(run, state) if state is not None and state.is_final else None
            if verdict is None:
                left.append(run)
            elif _end(client, run, verdict[0], verdict[1]):
                result.append(_record(run, *verdict))
        pending = left
        if not pending or prefect.problem is not None or time.monotonic() >= deadline:
            break
        time.sleep(_POLL_SECONDS)
    result.prefect_problem = prefect.problem
    return result
