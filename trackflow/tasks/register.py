"""The ``register_model`` task: register the run's model, stage it, maybe promote it.

``register_and_stage`` holds the logic as a plain function (usable without Prefect);
``register_model`` is the Prefect task around it. A promotion policy such as
``promote_if="metrics.roc_auc >= production.metrics.roc_auc + 0.005"`` is evaluated
before anything is written; its decision, the compared values and the reason are recorded
on the last transition the task makes (the promotion when it passes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prefect import Task
from prefect.cache_policies import NO_CACHE

from trackflow.exceptions import InvalidInputError, NotFoundError
from trackflow.registry.entities import ModelVersion
from trackflow.registry.model_format import warm_up
from trackflow.registry.stages import (
    PolicyDecision,
    PolicyReference,
    PromotionPolicy,
    Stage,
    parse_stage,
)
from trackflow.registry.validation import validate_model_name
from trackflow.tracking.hooks import current_flow_run_id
from trackflow.tracking.objects import known_ref
from trackflow.tracking.rollup import model_metrics, top_level_run
from trackflow.tracking.validation import validate_run_id

__all__ = ["register_model", "register_and_stage", "evaluate_policy"]


def evaluate_policy(
    client: Any, name: str, policy: PromotionPolicy, candidate_metrics: Mapping[str, float]
) -> PolicyDecision:
    """Compare ``candidate_metrics`` with the version ``policy`` refers to (stage or alias).

    The reference's metrics are :func:`~trackflow.tracking.rollup.model_metrics` of its
    run: the run's own metrics, then its flow run's (e.g. an evaluate task's accuracy).
    The decision's details always hold ``candidate_value`` and ``reference_value`` (None
    when a side has no value, or there is no reference version).
    """
    registry = client.registry
    reference: ModelVersion | None = None
    try:
        if policy.reference_stage is not None:
            found = registry.list_versions(name, stage=policy.reference_stage)
            reference = found[-1] if found else None
        else:
            reference = registry.resolve(f"models:/{name}@{policy.reference_alias}")
    except NotFoundError:  # no such model or alias yet: nothing to beat
        reference = None
    metrics: Mapping[str, float] = {}
    if reference is None:
        decision = policy.evaluate(candidate_metrics, PolicyReference(version=None))
    else:
        metrics = model_metrics(client, reference.run_id) if reference.run_id else {}
        decision = policy.evaluate(candidate_metrics, PolicyReference(version=reference.version, metrics=metrics))
    decision.details.setdefault("candidate_value", candidate_metrics.get(policy.metric))
    decision.details.setdefault("reference_value", metrics.get(policy.reference_metric))
    return decision


def _prefect_task_run() -> tuple[str | None, str | None]:
    try:
        from prefect.context import TaskRunContext

        ctx = TaskRunContext.get()
        return (str(ctx.task_run.id), ctx.task_run.name) if ctx is not None else (None, None)
    except Exception:  # noqa: BLE001 - no task run context
        return None, None


def _logged_source(client: Any, model: Any, run_id: str | None) -> str | None:
    """``runs:/<run_id>/<path>`` of the package already logged for this very ``model`` object, or None.

    Used only when it belongs to this registration: to ``run_id`` when one is given, else
    to the same top-level run as the active run (the task that trained it in this flow
    run), else (no active run) to any run of this store. The same object registered again
    from another run gets a package of its own.
    """
    ref = known_ref(model)
    if ref is None or not ref.startswith("model:runs:/"):
        return None
    source = ref[len("model:"):]
    logged_run = source[len("runs:/"):].split("/", 1)[0]
    if run_id is not None:
        return source if validate_run_id(run_id) == logged_run else None
    from trackflow.tracking.context import active_run_id

    active = active_run_id()
    try:
        logged_root = top_level_run(client, logged_run).id
        if active is not None and top_level_run(client, active).id != logged_root:
            return None
    except (NotFoundError, InvalidInputError):  # remembered from another store, or a run since deleted
        return None
    return source


def register_and_stage(
    model: Any,
    name: str,
    *,
    source: str | None = None,
    run_id: str | None = None,
    input_example: Any = None,
    artifact_path: str | None = None,
    stage: str | Stage = Stage.DEVELOPMENT,
    promote_if: str | None = None,
    reason: str | None = None,
    description: str | None = None,
    tags: Mapping[str, Any] | None = None,
    client: Any = None,
    publish_card: bool = True,
) -> ModelVersion:
    """Register ``model`` (or the logged package ``source``), move it to ``stage``, apply ``promote_if``.

    The run is ``run_id``, else the active run, else a new run made for the registration.
    When ``model`` is a fitted model a tracked task of this flow run returned (autolog
    logged it as a package, :func:`~trackflow.tracking.objects.known_ref`), that package is
    registered instead of saving a new one: the version's run is that task's run and it is
    linked to the task's model node; ``input_example`` is then not used (the package has
    its own). A new package goes to ``artifact_path``, by default the run's first free
    ``model``, ``model-2``, ... (several models per run).
    ``promote_if`` compares the candidate's :func:`~trackflow.tracking.rollup.model_metrics`:
    its run's own metrics, then its flow run's (an evaluate task's metrics count).
    Passing the policy moves the version on to production (archiving the previous one);
    with no production version to beat the policy passes. Returns the final version.
    """
    from trackflow.tracking.context import active_run_id
    from trackflow.tracking.fluent import get_client

    name = validate_model_name(name)
    target = parse_stage(stage)
    policy = PromotionPolicy.parse(promote_if) if promote_if is not None else None
    if policy is not None and target is not Stage.DEVELOPMENT and target is not Stage.STAGING:
        raise InvalidInputError(
            f"promote_if decides the move to production; stage must be development or staging, got {target.value}."
        )
    if (model is None) == (source is None):
        raise InvalidInputError("Pass either a model object or the source of a logged package, not both or neither.")
    client = client or get_client()
    logged = _logged_source(client, model, run_id) if source is None else None
    if logged is not None:  # the package a tracked task logged for this very object
        model, source = None, logged
    own_run = None
    if source is None and run_id is None and active_run_id() is None:
        task_run_id, task_name = _prefect_task_run()
        own_run = client.create_run(
            run_name=f"register-{name}", kind="task", flow_run_id=current_flow_run_id(),
            task_run_id=task_run_id, prefect_name=task_name,
        )
    try:
        version = _register(client, model, name, source=source, run_id=own_run.id if own_run else run_id,
                            input_example=input_example, artifact_path=artifact_path, target=target, policy=policy, reason=reason,
                            description=description, tags=tags)
    except BaseException:
        if own_run is not None:
            client.end_run(own_run.id, "FAILED", error="model registration failed")
        raise
    if own_run is not None:
        client.end_run(own_run.id, "FINISHED")
    if publish_card and current_flow_run_id() is not None:
        from trackflow.dashboard.model_card import publish_model_card

        publish_model_card(client, name, version.version)
    return version


def _register(
    client: Any, model: Any, name: str, *, source: str | None, run_id: str | None, input_example: Any,
    artifact_path: str | None, target: Stage,
    policy: PromotionPolicy | None, reason: str | None, description: str | None, tags: Mapping[str, Any] | None,
) -> ModelVersion:
    from trackflow.registry.uris import parse_source
    from trackflow.tracking.context import active_run_id

    registry = client.registry
    candidate_run = parse_source(source, client.artifacts)[0] if source is not None else (run_id or active_run_id())
    # validate_run_id: a missing run raises as get_run would
    metrics = model_metrics(client, validate_run_id(candidate_run)) if policy else {}
    decision = evaluate_policy(client, name, policy, metrics) if policy else None
    failed = decision if decision is not None and not decision.passed else None  # the policy said no
    last_step = target is Stage.DEVELOPMENT
    register_reason = failed.reason if failed and last_step else reason or "registered by the register_model task"
    register_details = {"promotion": failed.details} if failed and last_step else None
    if source is not None:
        version = registry.create_version(name, source=source, run_id=run_id, description=description, tags=tags,
                                          reason=register_reason, details=register_details)
    else:
        version = registry.register_model(model, name, run_id=candidate_run, input_example=input_example,
                                          artifact_path=artifact_path, description=description, tags=tags, reason=register_reason,
                                          details=register_details)
    if not last_step:
        stage_reason = failed.reason if failed else reason or f"staged in {target.value} by the register_model task"
        stage_details = {"promotion": failed.details} if failed else None
        version = registry.transition(name, version.version, target, reason=stage_reason, details=stage_details)
    if decision is not None and decision.passed:
        version = registry.transition(name, version.version, Stage.PRODUCTION, reason=decision.reason,
                                      details={"promotion": decision.details})
    return version


class _RegisterTask(Task[..., ModelVersion]):
    """The register-model task; called outside any flow or task run it is a plain call.

    Prefect would otherwise start its temporary API server (seconds) to record a task run
    no flow owns, and warn that its logs have no flow run. ``.with_options(...)`` returns
    a plain Prefect task.
    """

    def __call__(  # one body for the overloads of Task.__call__
        self, *args: Any, return_state: bool = False, wait_for: Any = None, **kwargs: Any
    ) -> Any:
        from prefect.context import FlowRunContext, TaskRunContext

        if not return_state and wait_for is None and FlowRunContext.get() is None and TaskRunContext.get() is None:
            return self.fn(*args, **kwargs)
        return super().__call__(*args, return_state=return_state, wait_for=wait_for, **kwargs)


def _register_model(
    model: Any,
    name: str,
    *,
    source: str | None = None,
    run_id: str | None = None,
    input_example: Any = None,
    artifact_path: str | None = None,
    stage: str = "development",
    promote_if: str | None = None,
    reason: str | None = None,
    description: str | None = None,
    tags: Mapping[str, Any] | None = None,
) -> ModelVersion:
    """Prefect task: register the current run's model, stage it and apply a promotion policy.

    See :func:`register_and_stage`. Emits ``trackflow.model.*`` events and publishes the
    model card artifact ``model-card-<name>``. Outside a flow it runs as a plain function
    call (no Prefect server is started).
    """
    return register_and_stage(
        model, name, source=source, run_id=run_id, input_example=input_example, artifact_path=artifact_path, stage=stage,
        promote_if=promote_if, reason=reason, description=description, tags=tags,
    )


register_model = _RegisterTask(fn=_register_model, name="register-model", cache_policy=NO_CACHE)

warm_up()  # a flow importing this task builds skops' allowlist in the background while it trains
