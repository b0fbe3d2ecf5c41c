"""``trackflow.flow`` and ``trackflow.task``: Prefect's decorators, with every run tracked.

``from trackflow import flow, task`` instead of ``from prefect import flow, task``: every
argument of Prefect's decorators is passed through unchanged, plus the keyword-only
tracking options of :class:`~trackflow.tracked.options.TrackingOptions`. The user's function
is wrapped (``functools.wraps``: same signature, so Prefect's parameter handling,
validation, task keys and cache keys are those of the user's code; async stays async)
and handed to Prefect, which returns its own Task / Flow object (subclassed only so that
``with_options`` keeps tracking and accepts the tracking options too).

Each flow run is one run (kind ``flow``); each task run one run (kind ``task``) nested
under its flow's run; a subflow's run is nested under the run that called it. Statuses
mirror Prefect: Completed -> FINISHED, Failed -> FAILED, Crashed -> CRASHED, Cancelled ->
KILLED; retries and re-executions on other workers reuse the run (``attempts`` counts the
executions, see :mod:`trackflow.tracked.binding`); a cache hit records a FINISHED
run tagged ``trackflow.cache_hit=true`` linked (``cached_from``) to the producing run.
At the end of a flow run the run report, a task-metrics table and a
``trackflow.run.finished`` / ``trackflow.run.failed`` event are published to Prefect.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Mapping
from copy import copy
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from prefect import Flow, Task

from trackflow.tracked import binding, flow_end, quiet_logs
from trackflow.tracked.autolog import link, log_inputs
from trackflow.tracked.options import TrackingOptions, link_informed_by
from trackflow.tracking.entities import RunStatus, now_ms
from trackflow.tracking.fluent import get_client

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["TrackedFlow", "TrackedTask", "flow", "task"]

logger = logging.getLogger("trackflow.flows")


# ---- calling the user's function inside a tracked run ----------------------------------


@functools.lru_cache(maxsize=4096)
def _signature(fn: Callable[..., Any]) -> inspect.Signature:
    return inspect.signature(fn)


def _arguments(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    signature = _signature(fn)
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError:
        return {}
    bound.apply_defaults()
    values: dict[str, Any] = {}
    for name, value in bound.arguments.items():
        if signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
            values.update(value)
        else:
            values[name] = value
    return values


def _finish(scope: binding.RunScope, result: Any = None, error: BaseException | None = None) -> list[Any]:
    """End the attempt; for a flow run's final attempt publish to Prefect. Returns awaitables.

    While a failure is being recorded, tracking problems are logged, never raised: the
    user's exception is the one that propagates.
    """
    failure: BaseException | str | None = error if error is not None else _failed_state_message(result)
    if failure is None:
        scope.succeed(result)
    else:
        try:
            scope.fail(failure)
        except Exception as exc:
            logger.warning("trackflow: could not record the failure of run %s: %s", scope.run_id, exc)
        if scope.will_retry(failure):
            return []
    return flow_end.finish_flow(scope) if scope.kind == "flow" else []


def _failed_state_message(result: Any) -> str | None:
    from prefect.states import State

    if isinstance(result, State) and result.is_failed():
        return result.message or "Failed"
    return None


async def _await_all(pending: list[Any]) -> None:
    for item in pending:
        try:
            await item
        except Exception as exc:
            logger.warning("trackflow: could not publish to Prefect: %s", exc)


def _discard(pending: list[Any]) -> None:
    for item in pending:
        close = getattr(item, "close", None)
        if callable(close):
            close()


def _resolve_annotations(wrapper: Callable[..., Any], fn: Callable[..., Any]) -> None:
    """Give the wrapper the user's annotations as objects, not strings.

    ``functools.wraps`` copies string annotations (``from __future__ import annotations``);
    Prefect's parameter validation would then resolve them in this module's globals and
    fail on ``pd.DataFrame``.
    Resolved in the user's module instead; left as strings when that is impossible
    (names only defined under TYPE_CHECKING), as Prefect itself does.
    """
    try:
        wrapper.__signature__ = inspect.signature(fn, eval_str=True)  # type: ignore[attr-defined]
        wrapper.__annotations__ = inspect.get_annotations(fn, eval_str=True)
    except Exception:  # noqa: BLE001 - unresolvable annotations stay as they were
        pass


class _Call:
    """One call of a tracked function: begin / call / finish, the same rules for every shape.

    * **begin**: entering binds the call to its Prefect run (:meth:`RunScope.begin`); outside
      a Prefect run (``scope`` None) the call is not tracked and nothing else happens.
    * **call**: the shape calls the function inside ``with`` / ``async with`` and stores a
      plain function's return value in ``result`` (generators finish with ``None``).
    * **finish**: leaving without an exception ends the run FINISHED (or FAILED when the
      result is a failed Prefect State); an exception ends it FAILED (CRASHED for
      BaseExceptions, RUNNING while Prefect retries) and always propagates unchanged. For
      generators, ``GeneratorExit`` (closed before exhausted) is not an error: FINISHED.
    * **publish**: the final attempt of a flow run publishes its report to Prefect; the
      awaitables this returns are awaited by ``async with`` and closed, unawaited, by
      ``with`` (the sync publisher has done its work by then).
    """

    __slots__ = ("generator", "result", "scope")

    def __init__(self, kind: str, fn: Callable[..., Any], options: TrackingOptions, args: Any, kwargs: Any, *, generator: bool = False) -> None:
        self.scope = binding.RunScope.begin(kind, _arguments(fn, args, kwargs), options)
        if self.scope is not None and kind == "flow":
            link_informed_by(self.scope.run_id, options)  # its informed_by, and a deployment's (tags)
        self.generator = generator
        self.result: Any = None

    def _end(self, error: BaseException | None) -> list[Any]:
        if self.scope is None:
            return []
        if error is None or (self.generator and isinstance(error, GeneratorExit)):
            return _finish(self.scope, self.result)
        return _finish(self.scope, error=error)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> Literal[False]:
        _discard(self._end(error))
        return False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> Literal[False]:
        await _await_all(self._end(error))
        return False


def _tracked(fn: Callable[..., Any], options: TrackingOptions, kind: str) -> Callable[..., Any]:
    """Wrap ``fn`` so each call inside a Prefect run is tracked (see :class:`_Call` for the rules).

    The four shapes only adapt the calling: async generator, coroutine, generator, plain.
    """
    if inspect.isasyncgenfunction(fn):

        @functools.wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            async with _Call(kind, fn, options, args, kwargs, generator=True):
                async for item in fn(*args, **kwargs):
                    yield item

    elif inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            async with _Call(kind, fn, options, args, kwargs) as call:
                call.result = await fn(*args, **kwargs)
            return call.result

    elif inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with _Call(kind, fn, options, args, kwargs, generator=True):
                return (yield from fn(*args, **kwargs))

    else:

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with _Call(kind, fn, options, args, kwargs) as call:
                call.result = fn(*args, **kwargs)
            return call.result

    _resolve_annotations(wrapper, fn)
    wrapper.__prefect_task_source__ = fn  # type: ignore[attr-defined] # Prefect keys tasks by the user's code
    wrapper.__trackflow_options__ = options  # type: ignore[attr-defined]
    return wrapper


# ---- Prefect state hooks -------------------------------------------------------------


def _task_completed(task: Any, task_run: Any, state: Any) -> None:
    """A cache hit never calls the function: record it here (in the flow run's store)."""
    if state.name == "Cached" and binding.lookup(task_run.id, query=False) is None:
        with binding.flow_store(str(task_run.flow_run_id) if task_run.flow_run_id else None):
            _record_cache_hit(task, task_run, state)


def _task_failed(task: Any, task_run: Any, state: Any) -> None:
    binding.settle(task_run.id, RunStatus.FAILED, state.message)


def _settle_flow(flow_run: Any, status: RunStatus, state: Any) -> None:
    flow_end.join(flow_run.id)
    if binding.settle(flow_run.id, status, state.message):
        bound = binding.lookup(flow_run.id, query=False)
        if bound is not None:
            from trackflow.dashboard.events import emit_run_event
            from trackflow.dashboard.run_report import collect_summary

            emit_run_event(collect_summary(bound.run_id), flow_run_id=str(flow_run.id))


def _flow_completed(flow: Any, flow_run: Any, state: Any) -> None:
    flow_end.join(flow_run.id)  # the report, published while Prefect ended the run


def _flow_failed(flow: Any, flow_run: Any, state: Any) -> None:
    _settle_flow(flow_run, RunStatus.FAILED, state)


def _flow_crashed(flow: Any, flow_run: Any, state: Any) -> None:
    _settle_flow(flow_run, RunStatus.CRASHED, state)


def _flow_cancelled(flow: Any, flow_run: Any, state: Any) -> None:
    _settle_flow(flow_run, RunStatus.KILLED, state)


_TASK_HOOKS: dict[str, Callable[..., None]] = {"on_completion": _task_completed, "on_failure": _task_failed}
_FLOW_HOOKS: dict[str, Callable[..., None]] = {
    "on_completion": _flow_completed,
    "on_failure": _flow_failed,
    "on_crashed": _flow_crashed,
    "on_cancellation": _flow_cancelled,
}
quiet_logs.install([*_TASK_HOOKS.values(), *_FLOW_HOOKS.values()])  # Prefect announces no trackflow hook


def _chain_hooks(prefect_options: Mapping[str, Any], ours: Mapping[str, Callable[..., None]], *, always: bool) -> dict[str, Any]:
    """Put trackflow's hook first in each hook list; user hooks keep running after it."""
    chained = dict(prefect_options)
    for name, hook in ours.items():
        given = chained.get(name)
        if given is None and not always:
            continue  # with_options copies the existing lists, which hold our hook already
        chained[name] = [hook, *(h for h in (given or []) if h is not hook)]
    return chained


def _record_cache_hit(task: Any, task_run: Any, state: Any) -> None:
    from prefect.context import TaskRunContext

    client = get_client()
    options: TrackingOptions = getattr(task.fn, "__trackflow_options__", TrackingOptions())
    storage_key = getattr(getattr(state.data, "metadata", None), "storage_key", None)
    key = storage_key.rsplit("/", 1)[-1] if storage_key else None
    producers = (
        client.search_runs(filter=f"tags.`trackflow.cache_key` = '{key}'", order_by="start_time DESC", max_results=1)
        if key and "'" not in key
        else []
    )
    flow_run_id = str(task_run.flow_run_id) if task_run.flow_run_id else None
    parent = binding.lookup(flow_run_id) if flow_run_id else None
    tags = {"prefect.task": task.name, "trackflow.cache_hit": "true"}
    if producers:
        tags["trackflow.cached_from"] = producers[0].id
    experiment = options.experiment or (parent.experiment if parent else task.name)
    run, created = binding.write(
        "start_prefect_run", experiment, run_name=task_run.name, parent_run_id=parent.run_id if parent else None,
        tags=tags, kind="task", flow_run_id=flow_run_id, task_run_id=str(task_run.id), prefect_name=task_run.name,
    )  # fmt: skip
    binding.bind(task_run.id, run.id, run.experiment_name)
    ctx = TaskRunContext.get()
    if created and ctx is not None and ctx.parameters:
        log_inputs(run.id, dict(ctx.parameters), options)
    if producers:
        edges = [(run.ref, producers[0].ref, "cached_from")]
        edges += [(run.ref, d.dataset.ref, "output") for d in client.get_datasets(producers[0].id, role="output")]
        link(edges, run_id=run.id)
    binding.write("update_run", run.id, status=RunStatus.FINISHED, end_time=now_ms())
    binding.mark_status(task_run.id, RunStatus.FINISHED)


# ---- Prefect's objects, tracked ------------------------------------------------------


def _rewrap(obj: Any, base_with_options: Callable[..., Any], hooks: Mapping[str, Callable[..., None]], changes: dict[str, Any], prefect_options: dict[str, Any]) -> Any:
    wrapper = obj.fn
    options = wrapper.__trackflow_options__.updated(**changes)
    source = copy(obj)
    source.fn = _tracked(wrapper.__wrapped__, options, "flow" if isinstance(obj, Flow) else "task")
    new = base_with_options(source, **_chain_hooks(prefect_options, hooks, always=False))
    new.__class__ = type(obj)
    return new


class TrackedTask(Task):
    """A Prefect Task whose runs are tracked; ``with_options`` also takes tracking options."""

    def with_options(self, **options: Any) -> TrackedTask:
        """A copy with Prefect's and/or trackflow's options changed (tracking is kept).

        Takes Prefect's keyword options and those of :class:`TrackingOptions`.
        """
        changes, prefect_options = TrackingOptions.split(options)
        return _rewrap(self, Task.with_options, _TASK_HOOKS, changes, prefect_options)

    @property
    def tracking_options(self) -> TrackingOptions:
        """What this task's runs record."""
        return self.fn.__trackflow_options__  # type: ignore[attr-defined]  # set on the wrapper by _tracked


class TrackedFlow(Flow):
    """A Prefect Flow whose runs are tracked; ``with_options`` also takes tracking options."""

    def with_options(self, **options: Any) -> TrackedFlow:
        """A copy with Prefect's and/or trackflow's options changed (tracking is kept).

        Takes Prefect's keyword options and those of :class:`TrackingOptions`.
        """
        changes, prefect_options = TrackingOptions.split(options)
        return _rewrap(self, Flow.with_options, _FLOW_HOOKS, changes, prefect_options)

    @property
    def tracking_options(self) -> TrackingOptions:
        """What this flow's runs record."""
        return self.fn.__trackflow_options__  # type: ignore[attr-defined]  # set on the wrapper by _tracked


def _flow_source(fn: Callable[..., Any], prefect_options: dict[str, Any]) -> dict[str, Any]:
    """Prefect hashes the flow's file as its version: hash the user's file, not ours."""
    if prefect_options.get("version"):
        return prefect_options
    try:
        from prefect.utilities.hashing import file_hash

        source = inspect.getsourcefile(fn)
        return {**prefect_options, "version": file_hash(source)} if source else prefect_options
    except (TypeError, OSError):
        return prefect_options


def _decorate(kind: str, fn: Callable[..., Any] | None, options: TrackingOptions, prefect_options: dict[str, Any]) -> Any:
    def build(function: Callable[..., Any]) -> Any:
        if isinstance(function, (classmethod, staticmethod)) or not callable(function):
            raise TypeError(f"trackflow.{kind} decorates plain functions, got {type(function).__name__}.")
        wrapper = _tracked(function, options, kind)
        if kind == "task":
            return TrackedTask(wrapper, **_chain_hooks(prefect_options, _TASK_HOOKS, always=True))
        made = TrackedFlow(wrapper, **_chain_hooks(_flow_source(function, prefect_options), _FLOW_HOOKS, always=True))
        if function.__module__ == "__main__":  # Prefect reads the entry file off the function
            made._entrypoint = f"{inspect.getfile(function)}:{function.__qualname__}"
        return made

    return build(fn) if fn is not None else build


def task(__fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Prefect's ``@task`` (every argument passed through), with each task run tracked.

    ``@task``, ``@task(retries=2)``, ``@task(autolog=False)``; see
    :class:`~trackflow.tracked.options.TrackingOptions` for the tracking options.
    """
    tracking, prefect_options = TrackingOptions.split(options)
    return _decorate("task", __fn, TrackingOptions(**tracking), prefect_options)


def flow(__fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Prefect's ``@flow`` (every argument passed through), with each flow run tracked.

    ``@flow``, ``@flow(experiment="churn")``, ``@flow(task_runner=DaskTaskRunner())``; the
    experiment defaults to the flow's name.
    """
    tracking, prefect_options = TrackingOptions.split(options)
    return _decorate("flow", __fn, TrackingOptions(**tracking), prefect_options)
