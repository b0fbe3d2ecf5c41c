"""Load a flow from an entrypoint, check its parameters, run it once (tracked).

Used by ``trackflow run`` (a spec), ``trackflow rerun`` (a past run) and ``quickstart``.
Parameters are checked against the flow's signature and Prefect's parameter schema
before the flow starts, so a typo writes nothing. After the run, the invocation
(entrypoint, exact parameters, spec) is tagged on the flow's run so it can be rerun.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trackflow.exceptions import InvalidInputError, NotFoundError, TrackflowError

__all__ = ["LaunchResult", "load_flow", "check_flow_parameters", "run_flow", "run_spec", "TRAINING_PIPELINE"]

TRAINING_PIPELINE = "trackflow.flows:training_pipeline"
_TRAINING_ALIASES = {TRAINING_PIPELINE, "trackflow.flows.pipelines:training_pipeline"}


@dataclass(frozen=True)
class LaunchResult:
    """How one run went: the trackflow run, the Prefect flow run, its state and result."""

    run_id: str | None
    flow_run_id: str | None
    state: str
    ok: bool
    result: Any = None
    error: BaseException | None = None


def load_flow(entrypoint: str, *, base_dir: Path | None = None) -> Any:
    """The Prefect flow at ``module:name`` or ``path/file.py:name`` (relative to ``base_dir``).

    With ``base_dir`` (a spec's folder) the entrypoint must stay inside it or name an allowed
    module (:func:`~trackflow.deployments.spec.flow_entrypoint_problem`); nothing is imported
    or executed otherwise.
    """
    from prefect import Flow

    target, colon, name = entrypoint.rpartition(":")
    if not colon or not target or not name:
        raise InvalidInputError(f"Flow entrypoint {entrypoint!r} must be 'package.module:flow' or 'file.py:flow'.")
    if base_dir is not None:  # a spec's flow: it may not leave the spec's folder (checked before importing)
        from trackflow.deployments.spec import flow_entrypoint_problem

        problem = flow_entrypoint_problem(entrypoint, base_dir)
        if problem is not None:
            raise InvalidInputError(problem, hint="Put the flow file inside the spec's folder, or allow its module "
                                    "with TRACKFLOW_ALLOWED_FLOW_MODULES=<module prefix,...>.")
    if entrypoint in _TRAINING_ALIASES:
        from trackflow.flows.pipelines import training_pipeline

        return training_pipeline
    if target.endswith(".py"):
        path = Path(target).expanduser()
        path = path if path.is_absolute() else (base_dir or Path.cwd()) / path
        if not path.is_file():
            raise NotFoundError(f"No flow file at {str(path)!r} (from {entrypoint!r}).")
        obj = _load_file(path.resolve(), name)
    else:
        import importlib

        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise InvalidInputError(f"Cannot import module {target!r} of flow {entrypoint!r}: {exc}") from None
        obj = getattr(module, name, None)
        if obj is None:
            raise NotFoundError(f"Module {target!r} has no flow {name!r}.")
    if not isinstance(obj, Flow):
        raise InvalidInputError(f"{entrypoint!r} is a {type(obj).__name__}, not a flow.",
                                hint="Decorate it with @trackflow.flow (or @prefect.flow).")
    return obj


def _load_file(path: Path, name: str) -> Any:
    from prefect.flows import load_flow_from_entrypoint

    try:
        return load_flow_from_entrypoint(f"{path}:{name}", use_placeholder_flow=False)
    except Exception as exc:  # noqa: BLE001 - a user's script can raise anything
        raise InvalidInputError(f"Cannot load flow {name!r} from {str(path)!r}: {exc}") from None


def check_flow_parameters(flow: Any, parameters: Mapping[str, Any], *, spec: Any = None) -> dict[str, Any]:
    """Reject unknown or ill-typed parameters before running (naming the key, and its line
    in the spec when there is one); returns the parameters the flow will receive."""
    signature = inspect.signature(flow.fn)
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())
    known = [n for n, p in signature.parameters.items() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    for key in parameters:
        if key not in signature.parameters and not takes_any:
            message = f"Flow {flow.name!r} has no parameter {key!r}."
            hint = f"Its parameters: {', '.join(known) or 'none'}."
            raise spec.error(f"parameters.{key}", message, hint=hint) if spec is not None else InvalidInputError(
                message, hint=hint)
    import logging
    import re

    quiet = logging.getLogger("prefect.flows")  # it logs pydantic's error list before raising
    drop = logging.Filter("-")  # matches no logger name: drops every record
    quiet.addFilter(drop)
    try:
        flow.validate_parameters(dict(parameters))
    except Exception as exc:  # noqa: BLE001 - Prefect's ParameterTypeError / SignatureMismatchError
        found = re.search(r"^ - (\w+): (.+)$", str(exc), re.MULTILINE)
        if found is not None and found.group(1) in parameters:  # the key, its value and what was wrong
            key, why = found.group(1), found.group(2)
            message = f"Parameter {key!r} of flow {flow.name!r} is {parameters[key]!r}: {why}."
            raise spec.error(f"parameters.{key}", message) if spec is not None else InvalidInputError(
                message) from None
        raise InvalidInputError(f"Parameters do not fit flow {flow.name!r}: {exc}") from None
    finally:
        quiet.removeFilter(drop)
    if flow.fn.__name__ == "training_pipeline" and getattr(flow.fn, "__module__", "") == "trackflow.flows.pipelines":
        from trackflow.flows.pipelines import check_training_parameters

        try:
            check_training_parameters(**parameters)
        except TrackflowError as exc:
            bad_key = _key_in(str(exc), parameters)
            if spec is not None and bad_key is not None:
                raise spec.error(f"parameters.{bad_key}", str(exc), hint=exc.hint) from None
            raise
    return dict(parameters)


def _with_tracking_options(flow: Any, *, experiment: str | None = None, run_name: str | None = None) -> Any:
    """``flow`` with the given tracking options replacing its own (a plain Prefect flow: as is)."""
    given = {k: v for k, v in {"experiment": experiment, "run_name": run_name}.items() if v is not None}
    return flow.with_options(**given) if given and hasattr(flow, "tracking_options") else flow


def _key_in(message: str, parameters: Mapping[str, Any]) -> str | None:
    for key in ("estimator_params", "estimator", "data", "target", "test_size", "random_state", "metrics",
                "model_name", "stage", "promote_if"):
        if key in parameters and key in message.lower():
            return key
    return None


def run_flow(
    flow: Any,
    parameters: Mapping[str, Any],
    *,
    entrypoint: str | None = None,
    experiment: str | None = None,
    run_name: str | None = None,
    tags: Mapping[str, str] | None = None,
    prefect_tags: Sequence[str] = (),
) -> LaunchResult:
    """Run ``flow`` once in this process and tag its run with how it was invoked.

    ``experiment`` / ``run_name`` replace the flow's own tracking options for this run;
    ``prefect_tags`` are Prefect tags of the flow run (as a deployment's tags are).
    """
    from prefect import tags as prefect_tag_context

    from trackflow.tracked.provenance import flow_entrypoint, invocation_tags
    from trackflow.tracking.fluent import get_client

    runnable = _with_tracking_options(flow, experiment=experiment, run_name=run_name)
    with prefect_tag_context(*prefect_tags):
        state = runnable(**dict(parameters), return_state=True)
    flow_run_id = str(state.state_details.flow_run_id) if state.state_details.flow_run_id else None
    client = get_client()
    run_id = None
    if flow_run_id is not None:
        try:
            run_id = client.get_run_by_prefect_id(flow_run_id).id
        except NotFoundError:
            run_id = None  # a plain Prefect flow: nothing tracked
    if run_id is not None:
        recorded = invocation_tags(entrypoint or flow_entrypoint(flow), parameters, flow_version=flow.version)
        client.set_tags(run_id, {**recorded, **dict(tags or {})})
    if state.is_completed():
        return LaunchResult(run_id, flow_run_id, state.name, True, result=state.result(raise_on_failure=False))
    error = state.result(raise_on_failure=False)
    return LaunchResult(run_id, flow_run_id, state.name, False,
                        error=error if isinstance(error, BaseException) else RuntimeError(state.message or state.name))


def run_spec(spec: Any, overrides: Mapping[str, Any] | None = None) -> LaunchResult:
    """Run a :class:`~trackflow.deployments.spec.PipelineSpec` once, with ``-P`` overrides."""
    from trackflow.tasks.data import data_roots
    from trackflow.tracked.provenance import SPEC_NAME_TAG, SPEC_TAG

    flow = load_flow(spec.flow, base_dir=spec.directory)
    with data_roots(spec.directory):  # the run's load task checks `data` against the spec's folder too
        parameters = check_flow_parameters(flow, spec.flow_parameters(overrides), spec=spec)
        entry = spec.flow
        target, _, name = entry.rpartition(":")
        if target.endswith(".py") and not Path(target).is_absolute():
            entry = f"{(spec.directory / target).resolve()}:{name}"
        tags = {SPEC_NAME_TAG: spec.name}
        if spec.path is not None:
            tags[SPEC_TAG] = str(spec.path)
        return run_flow(flow, parameters, entrypoint=entry, experiment=spec.experiment, run_name=spec.run_name,
                        tags=tags, prefect_tags=spec.tags)
