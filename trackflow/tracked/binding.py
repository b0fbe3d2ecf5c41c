"""Which trackflow run belongs to which Prefect flow run or task run.

Runs are keyed by Prefect's own flow-run and task-run ids, read from Prefect's run
context, so the thread-pool task runner and Dask process workers attribute every value to
the right run. Each process keeps a bounded cache (Prefect id -> trackflow run). A task run
executing in another process than its flow run (a Dask or Ray worker) learns the flow's run,
experiment and store from the flow run context Prefect sends along
(:mod:`trackflow.tracked.propagation`), else falls back to
:meth:`Client.get_run_by_prefect_id` (the database is shared).

One trackflow run per Prefect run, whatever executes it how often:

* the task runs of a flow running in this process are created here, queued and written in
  batches; Prefect retries find them in this process's cache;
* elsewhere (a worker) the run is found or created in one race-free store transaction
  (:meth:`Client.start_prefect_run`). When an earlier execution made it (the worker that
  ran it died, or Dask recomputes a result lost with its worker), this execution *resumes*
  it and becomes its record: the earlier execution's metric values are replaced, the run is
  RUNNING again until this execution ends it (a run left RUNNING by a dead worker is so
  finished) and ``attempts`` counts executions. A worker writes a task run's values and end
  before the tracked function returns, i.e. before Prefect sees the task's final state.

A resolver registered with :func:`trackflow.tracking.context.register_run_resolver` makes
``trackflow.log_*`` inside a tracked task log to that task's run (inside a flow body: the
flow's run).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any

from trackflow.exceptions import NotFoundError, StoreError
from trackflow.tracked import propagation
from trackflow.tracked.autolog import log_inputs, log_outputs
from trackflow.tracked.options import TrackingOptions
from trackflow.tracking.client import Client
from trackflow.tracking.context import register_run_resolver
from trackflow.tracking.entities import RunStatus, now_ms
from trackflow.tracking.fluent import get_client, reset_client, use_client

__all__ = [
    "BoundRun",
    "Enclosing",
    "RunScope",
    "begin",
    "bind",
    "enclosing",
    "enter",
    "flow_store",
    "forget",
    "known_status",
    "leave",
    "lookup",
    "mark_status",
    "resolve_active_run",
    "settle",
    "write",
]

logger = logging.getLogger("trackflow.flows")

_MAX_CACHED = 20_000


@dataclass
class BoundRun:
    """A trackflow run bound to a Prefect run, as this process knows it."""

    run_id: str
    experiment: str
    status: RunStatus = RunStatus.RUNNING
    local: bool = False
    """True when this process created the run (its writes may be queued, not yet stored)."""
    deferred: bool = False
    """True when this process queues the run's writes (decided once, at creation)."""
    client: Client | None = None
    """The Client of the flow run's store when it is not this process's default (a worker)."""
    earlier_attempts: int = 0
    """Executions of the run before this process resumed it (0 when this process created it)."""
    replaces_since: int | None = None
    """When this process resumed a run an earlier execution had ended: the start (ms) of this
    execution, whose end drops the values logged before it."""


@dataclass(frozen=True)
class Enclosing:
    """The tracked run whose code is executing in this context, and its Prefect flow run."""

    run_id: str
    experiment: str
    flow_run_id: str | None


_cache: OrderedDict[str, BoundRun | None] = OrderedDict()
_lock = threading.Lock()
_enclosing: ContextVar[Enclosing | None] = ContextVar("trackflow_enclosing_run", default=None)


def _put(prefect_id: str, value: BoundRun | None) -> None:
    with _lock:
        _cache[prefect_id] = value
        _cache.move_to_end(prefect_id)
        while len(_cache) > _MAX_CACHED:
            _cache.popitem(last=False)


def bind(prefect_id: Any, run_id: str, experiment: str, *, deferred: bool = False) -> BoundRun:
    """Record that the Prefect run ``prefect_id`` is tracked as ``run_id`` (created by this process)."""
    bound = BoundRun(run_id=run_id, experiment=experiment, local=True, deferred=deferred)
    _put(str(prefect_id), bound)
    return bound


def forget(prefect_id: Any) -> None:
    """Drop what this process knows about ``prefect_id``."""
    with _lock:
        _cache.pop(str(prefect_id), None)


def lookup(prefect_id: Any, *, query: bool = True) -> BoundRun | None:
    """The run bound to ``prefect_id``: this process's cache, else (``query``) the store."""
    key = str(prefect_id)
    with _lock:
        if key in _cache:
            found = _cache[key]
            if found is not None or not query:
                return found
    if not query:
        return None
    try:
        run = get_client().get_run_by_prefect_id(key)
    except NotFoundError:
        _put(key, None)
        return None
    bound = BoundRun(run_id=run.id, experiment=run.experiment_name, status=run.status)
    _put(key, bound)
    return bound


def mark_status(prefect_id: Any, status: RunStatus) -> None:
    """Remember the status this process last wrote for the run of ``prefect_id``."""
    bound = lookup(prefect_id, query=False)
    if bound is not None:
        bound.status = status


def known_status(prefect_id: Any) -> RunStatus | None:
    """The status of the run of ``prefect_id`` (store read when this process never saw it)."""
    bound = lookup(prefect_id)
    if bound is None:
        return None
    if bound.status is RunStatus.RUNNING:
        # another attempt or process may have ended it: the store knows
        bound.status = (bound.client or get_client()).get_run(bound.run_id).status
    return bound.status


# ---- the run whose code executes in this context ------------------------------------


def enclosing() -> Enclosing | None:
    """The innermost tracked flow or task run executing in this context, if any."""
    return _enclosing.get()


def enter(run_id: str, experiment: str, flow_run_id: str | None) -> Token[Enclosing | None]:
    """Make ``run_id`` the enclosing run of code called from here (subflows, nested tasks)."""
    return _enclosing.set(Enclosing(run_id=run_id, experiment=experiment, flow_run_id=flow_run_id))


def leave(token: Token[Enclosing | None]) -> None:
    """Undo :func:`enter` (tolerates a reset from another context)."""
    try:
        _enclosing.reset(token)
    except ValueError:
        _enclosing.set(None)


def resolve_active_run() -> str | None:
    """The trackflow run of the current Prefect task run, else of the current flow run."""
    from prefect.context import FlowRunContext, TaskRunContext

    task_ctx = TaskRunContext.get()
    if task_ctx is not None and task_ctx.task_run is not None:
        bound = lookup(task_ctx.task_run.id, query=False)  # tracked tasks bind in their own process
        if bound is not None:
            return bound.run_id
    flow_ctx = FlowRunContext.get()
    if flow_ctx is not None and flow_ctx.flow_run is not None:
        bound = lookup(flow_ctx.flow_run.id)
        if bound is not None:
            return bound.run_id
    return None


register_run_resolver(resolve_active_run)


# ---- the life of a tracked run -----------------------------------------------------


@dataclass(frozen=True)
class _PrefectRun:
    """The Prefect flow run or task run executing here, and its flow / task definition."""

    kind: str
    run: Any
    definition: Any

    @property
    def prefect_id(self) -> str:
        return str(self.run.id)

    @property
    def flow_run_id(self) -> str | None:
        if self.kind == "flow":
            return str(self.run.id)
        return str(self.run.flow_run_id) if self.run.flow_run_id else None

    @property
    def attempt(self) -> int:
        return max(int(self.run.run_count or 1), 1)

    @property
    def may_retry(self) -> bool:
        return self.attempt <= int(getattr(self.definition, "retries", 0) or 0)


def _current_prefect_run(kind: str) -> _PrefectRun | None:
    """The Prefect run of this context (None outside one: ``my_task.fn(...)``)."""
    from prefect.context import FlowRunContext, TaskRunContext

    ctx: Any = TaskRunContext.get() if kind == "task" else FlowRunContext.get()
    if ctx is None:
        return None
    run = ctx.task_run if kind == "task" else ctx.flow_run
    definition = ctx.task if kind == "task" else ctx.flow
    if run is None or definition is None:
        return None
    return _PrefectRun(kind, run, definition)


def write(method: str, *args: Any, **kwargs: Any) -> Any:
    """Call a writing Client method for the tracked path (the store serializes this process's writers).

    While the tracking database is unavailable the write is retried, then spooled for
    ``trackflow sync``, never failing the user's task
    (:func:`trackflow.tracking.resilience.tracked_write`).
    """
    from trackflow.tracking.resilience import tracked_write

    return tracked_write(method, *args, **kwargs)


def _in_process(parent: Enclosing | BoundRun | None) -> bool:
    """True when the parent run was made by this process, so a child's writes may be queued."""
    return isinstance(parent, Enclosing) or (isinstance(parent, BoundRun) and parent.local)


def _clean(text: str) -> str:
    return text.replace("/", "-").replace("\\", "-").strip()[:250] or "unnamed"


def _prefect_tags(tags: Any) -> dict[str, str]:
    return {"prefect.tags": ",".join(sorted(tags))} if tags else {}


def _task_parent(flow_run_id: str | None, flow: propagation.Carried | None) -> Enclosing | BoundRun | None:
    outer = enclosing()
    if outer is not None and outer.flow_run_id == flow_run_id:
        return outer  # nested in a tracked task or flow body of the same flow run
    if not flow_run_id:
        return None
    known = lookup(flow_run_id, query=False)
    if known is not None:
        return known
    if flow is not None:  # a worker: the flow run context says which run it is
        bound = BoundRun(run_id=flow.run_id, experiment=flow.experiment)
        _put(flow_run_id, bound)
        return bound
    return lookup(flow_run_id)


def _flow_parent(flow_run: Any) -> Enclosing | BoundRun | None:
    if flow_run.parent_task_run_id is None:
        return None
    outer = enclosing()
    if outer is not None:
        return outer
    try:  # a subflow started outside this context: ask Prefect which flow run holds it
        from prefect.client.orchestration import get_client as prefect_client

        with prefect_client(sync_client=True) as prefect:
            parent_task_run = prefect.read_task_run(flow_run.parent_task_run_id)
        return lookup(parent_task_run.flow_run_id) if parent_task_run.flow_run_id else None
    except Exception as exc:
        logger.debug("trackflow: parent of subflow run %s not found: %s", flow_run.id, exc)
        return None


def _parent(current: _PrefectRun, flow: propagation.Carried | None) -> Enclosing | BoundRun | None:
    """The run a new run nests under: the enclosing run, else the flow run's (task) or caller's (subflow)."""
    return _task_parent(current.flow_run_id, flow) if current.kind == "task" else _flow_parent(current.run)


def _use_flow_client(flow: propagation.Carried | None) -> tuple[Client | None, Token[Client | None] | None]:
    """Make the Client of the store ``flow`` carries this context's (when it is not this
    process's default); (that client, the token undoing it), or (None, None)."""
    client = propagation.client_for(flow) if flow is not None else None
    return client, use_client(client) if client is not None else None


def _carried(current: _PrefectRun) -> propagation.Carried | None:
    """What the flow run of a task run carries, when the flow runs in another process."""
    return _carried_by(current.flow_run_id) if current.kind == "task" else None


def _carried_by(flow_run_id: str | None) -> propagation.Carried | None:
    """What the flow run ``flow_run_id`` of this context carries, when it runs in another process."""
    if flow_run_id is None:
        return None
    known = lookup(flow_run_id, query=False)
    outer = enclosing()
    if (known is not None and known.local) or (outer is not None and outer.flow_run_id == flow_run_id):
        return None  # the flow runs here: this process's settings are the flow's
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    flow_run = ctx.flow_run if ctx is not None else None
    if flow_run is None or str(flow_run.id) != flow_run_id:
        return None
    return propagation.carried(flow_run)


def _cache_key() -> str | None:
    from prefect.transactions import get_transaction

    txn = get_transaction()
    key = getattr(txn, "key", None)
    return key.rsplit("/", 1)[-1] if key else None


def _tags(current: _PrefectRun) -> dict[str, str]:
    tags = {f"prefect.{current.kind}": current.definition.name, **_prefect_tags(current.run.tags)}
    key = _cache_key() if current.kind == "task" else None
    if key:
        tags["trackflow.cache_key"] = key
    return tags


def _create(
    current: _PrefectRun,
    parameters: dict[str, Any],
    options: TrackingOptions,
    flow: propagation.Carried | None,
    client: Client | None,
) -> BoundRun:
    """Create (or, elsewhere than the flow's process, find and resume) the run and bind it;
    the one place deferral is decided.

    Task runs of a flow running in this process are queued and written in batches
    (creation and end alike); elsewhere (Dask process workers) they are written at once,
    for the flow to see, by :meth:`Client.start_prefect_run`, which finds the run an
    earlier execution made.
    """
    parent = _parent(current, flow)
    if current.kind == "flow" and parent is None:  # a deployment's experiment / run name (its tags)
        options = options.for_flow_run(current.run)
    deferred = current.kind == "task" and _in_process(parent)
    experiment = _clean(options.experiment or (parent.experiment if parent else current.definition.name))
    details: dict[str, Any] = {
        "run_name": _clean(options.format_run_name(parameters) or current.run.name),
        "parent_run_id": parent.run_id if parent else None,
        "tags": _tags(current),
        "kind": current.kind,
        "flow_run_id": current.flow_run_id,
        "task_run_id": current.prefect_id if current.kind == "task" else None,
        "prefect_name": current.run.name,
    }
    started = now_ms()
    if deferred:
        run, created = write("create_run", experiment, **details, defer=True), True
    else:
        run, created = write("start_prefect_run", experiment, **details)
    bound = bind(current.prefect_id, run.id, run.experiment_name, deferred=deferred)
    bound.client = client
    if created:
        log_inputs(run.id, parameters, options)
    else:
        bound.earlier_attempts = max(run.attempts - current.attempt, 0)
        if run.status is not RunStatus.RUNNING:
            bound.replaces_since = started
    return bound


@dataclass
class RunScope:
    """One execution (attempt) of a tracked flow or task function: its run's life cycle.

    :meth:`begin` creates the run (first attempt) or finds it (retries) and makes it the
    enclosing run; :meth:`succeed` / :meth:`fail` end the attempt and leave the enclosing
    context. Whether the run's writes are queued (``deferred``) is decided once, when the
    run is created (:func:`_create`), and kept with the binding for its retries.
    """

    kind: str
    label: str
    prefect_id: str
    flow_run_id: str | None
    run_id: str
    experiment: str
    attempt: int
    may_retry: bool
    parameters: dict[str, Any]
    options: TrackingOptions
    deferred: bool = False
    earlier_attempts: int = 0
    replaces_since: int | None = None
    token: Token[Enclosing | None] | None = None
    client_token: Token[Client | None] | None = None

    @classmethod
    def begin(cls, kind: str, parameters: dict[str, Any], options: TrackingOptions) -> RunScope | None:
        """Create (first attempt) or find (retries, re-executions) the run of the current Prefect run.

        None outside a Prefect run context (``my_task.fn(...)``): the call is not tracked.
        A task run whose flow records into another store than this process's default (a
        worker that did not inherit the flow's environment) records into the flow's store:
        its Client is :func:`~trackflow.tracking.fluent.get_client`'s answer in this context
        until the scope is left.
        """
        current = _current_prefect_run(kind)
        if current is None:
            return None
        bound = lookup(current.prefect_id, query=False)
        client_token = None
        try:
            if bound is None:
                flow = _carried(current)
                client, client_token = _use_flow_client(flow)
                if flow is None and current.attempt > 1:
                    bound = lookup(current.prefect_id)  # a retry of a run this process forgot
                if bound is None:
                    bound = _create(current, parameters, options, flow, client)
            elif bound.client is not None:
                client_token = use_client(bound.client)
        except BaseException:
            if client_token is not None:
                reset_client(client_token)
            raise
        bound.status = RunStatus.RUNNING
        scope = cls(
            kind=kind,
            label=current.definition.name,
            prefect_id=current.prefect_id,
            flow_run_id=current.flow_run_id,
            run_id=bound.run_id,
            experiment=bound.experiment,
            attempt=current.attempt,
            may_retry=current.may_retry,
            parameters=parameters,
            options=options,
            deferred=bound.deferred,
            earlier_attempts=bound.earlier_attempts,
            replaces_since=bound.replaces_since,
            client_token=client_token,
        )
        scope.token = enter(scope.run_id, scope.experiment, scope.flow_run_id)
        if kind == "flow":
            _publish(current, scope)
        return scope

    @property
    def attempts(self) -> int:
        """Executions of the run so far, this one included."""
        return self.earlier_attempts + self.attempt

    def will_retry(self, failure: BaseException | str) -> bool:
        """True when Prefect retries after ``failure``: the run stays RUNNING for the next attempt."""
        return self.may_retry and isinstance(failure, (Exception, str))

    def succeed(self, result: Any) -> None:
        """Log what the run returned and end it FINISHED."""
        try:
            log_outputs(self.run_id, self.label, result, self.parameters, self.options)
        finally:
            self.end(RunStatus.FINISHED, None)

    def fail(self, error: BaseException | str) -> None:
        """Record a failed attempt: FAILED (CRASHED for non-Exceptions), or RUNNING when Prefect retries."""
        message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        if self.will_retry(error):
            try:
                write("update_run", self.run_id, error=message[:8000], attempts=self.attempts)
            finally:
                self.leave()
            return
        self.end(RunStatus.FAILED if isinstance(error, (Exception, str)) else RunStatus.CRASHED, message)

    def end(self, status: RunStatus, error: str | None) -> None:
        """Write the final status of the run and leave its context.

        Not deferred (a worker), the end and every value this process queued are written
        before this returns: durable before Prefect sees the task's final state.
        """
        try:
            if self.replaces_since is not None:  # this execution is the record now
                try:
                    write("drop_metrics_before", self.run_id, self.replaces_since)
                except StoreError as exc:
                    logger.warning("trackflow: run %s keeps the values of its earlier execution: %s", self.run_id, exc)
            write(
                "update_run",
                self.run_id,
                status=status,
                error=error[:8000] if error else None,
                end_time=now_ms(),
                attempts=self.attempts,
                defer=self.deferred,
            )
            mark_status(self.prefect_id, status)
            if not self.deferred:
                write("flush")  # durable: stored, or spooled while the database is down
        finally:
            self.leave()

    def leave(self) -> None:
        """Stop being the enclosing run of this context, and stop using its Client (once)."""
        if self.token is not None:
            leave(self.token)
            self.token = None
        if self.client_token is not None:
            reset_client(self.client_token)
            self.client_token = None


def _publish(current: _PrefectRun, scope: RunScope) -> None:
    """Put the flow run's store, run and experiment into its context, for its task runs on workers."""
    client = get_client()
    propagation.publish(
        current.run,
        propagation.Carried(
            tracking_uri=client.tracking_uri,
            artifact_root=client.artifact_root,
            run_id=scope.run_id,
            experiment=scope.experiment,
            host=propagation.this_host(),
        ),
    )


begin = RunScope.begin


def settle(prefect_id: Any, status: RunStatus, message: str | None) -> bool:
    """End the run of ``prefect_id`` with ``status`` unless it has it already (state hooks).

    Returns True when the status changed.
    """
    bound = lookup(prefect_id, query=False)
    token = use_client(bound.client) if bound is not None and bound.client is not None else None
    try:
        current = known_status(prefect_id)
        if current is None or current is status:
            return False
        if status is RunStatus.KILLED and current is not RunStatus.RUNNING:
            return False  # a cancellation reaching a process that already ended its run changes nothing
        bound = lookup(prefect_id)
        assert bound is not None
        write("update_run", bound.run_id, status=status, error=(message or status.value)[:8000], end_time=now_ms())
        bound.status = status
        return True
    finally:
        if token is not None:
            reset_client(token)


@contextmanager
def flow_store(flow_run_id: str | None) -> Iterator[None]:
    """Inside, :func:`~trackflow.tracking.fluent.get_client` records into the store of the flow
    run ``flow_run_id`` when its context carries one this process does not use by default
    (a state hook on a worker)."""
    _, token = _use_flow_client(_carried_by(flow_run_id))
    try:
        yield
    finally:
        if token is not None:
            reset_client(token)
