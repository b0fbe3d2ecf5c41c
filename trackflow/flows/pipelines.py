"""The reference pipeline: ``training_pipeline`` (load -> split -> train -> evaluate -> register -> stage).

A tracked Prefect flow built from trackflow's ready-made tasks::

    from trackflow.flows import training_pipeline

    result = training_pipeline(
        data="data/churn.csv", target="churned",
        estimator="sklearn.ensemble.GradientBoostingClassifier", estimator_params={"max_depth": 3},
        model_name="churn-clf", stage="staging",
        promote_if="metrics.roc_auc >= production.metrics.roc_auc",
    )

Every parameter is checked before the first task runs. The held-out metrics are logged
on the flow's run, which is the candidate a promotion policy judges; the model is
registered from that run, so ``client.lineage(run_id)`` links data, tasks and the version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trackflow.exceptions import InvalidInputError
from trackflow.tracked.decorators import flow

__all__ = ["PipelineResult", "check_training_parameters", "training_pipeline", "DEFAULT_ESTIMATOR"]

DEFAULT_ESTIMATOR = "sklearn.ensemble.RandomForestClassifier"


@dataclass(frozen=True)
class PipelineResult:
    """What a training pipeline run produced."""

    run_id: str | None
    source: str
    target: str
    metrics: dict[str, float]
    model_name: str | None = None
    version: int | None = None
    stage: str | None = None
    model_uri: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def check_training_parameters(
    *,
    data: Any = "sklearn:breast_cancer",
    target: Any = None,
    estimator: Any = DEFAULT_ESTIMATOR,
    estimator_params: Any = None,
    test_size: Any = 0.25,
    random_state: Any = 0,
    metrics: Any = None,
    model_name: Any = None,
    stage: Any = "staging",
    promote_if: Any = None,
) -> dict[str, Any]:
    """Validate the pipeline's parameters without running anything; returns them normalized.

    Raises InvalidInputError (or NotFoundError for a missing data file) naming the problem.
    """
    from trackflow.registry.stages import PromotionPolicy, Stage, parse_stage
    from trackflow.registry.validation import validate_model_name
    from trackflow.tasks.data import check_source, default_target
    from trackflow.tasks.evaluation import check_metrics
    from trackflow.tasks.training import build_estimator

    source = check_source(data)
    column = default_target(source, target)
    if isinstance(test_size, bool) or not isinstance(test_size, (int, float)) or not 0 < test_size < 1:
        raise InvalidInputError(f"test_size must be a fraction between 0 and 1, got {test_size!r}.")
    if random_state is not None and (isinstance(random_state, bool) or not isinstance(random_state, int)):
        raise InvalidInputError(f"random_state must be an integer or None, got {random_state!r}.")
    if estimator_params is not None and not isinstance(estimator_params, Mapping):
        raise InvalidInputError(f"estimator_params must be a mapping, got {estimator_params!r}.")
    model = build_estimator(estimator, estimator_params, random_state=random_state)
    names = list(check_metrics(model, metrics))
    target_stage = parse_stage(stage)
    policy = PromotionPolicy.parse(promote_if) if promote_if is not None else None
    if policy is not None and target_stage not in (Stage.DEVELOPMENT, Stage.STAGING):
        raise InvalidInputError(
            f"With promote_if the pipeline stages the model in development or staging, not {target_stage.value}.",
            hint="promote_if decides the move to production.",
        )
    if policy is not None and policy.metric not in names:
        raise InvalidInputError(
            f"promote_if compares metric {policy.metric!r}, which the pipeline does not compute ({', '.join(names)}).",
            hint=f"Add {policy.metric!r} to metrics.",
        )
    if model_name is not None:
        model_name = validate_model_name(model_name)
    elif promote_if is not None:
        raise InvalidInputError("promote_if needs model_name: the policy decides a registered model's stage.")
    return {
        "data": source, "target": column, "estimator": estimator, "estimator_params": dict(estimator_params or {}),
        "test_size": float(test_size), "random_state": random_state, "metrics": names, "model_name": model_name,
        "stage": target_stage.value, "promote_if": policy.text if policy is not None else None,
        "classifier": _is_classifier(model),
    }  # fmt: skip


def _is_classifier(model: Any) -> bool:
    from trackflow.tasks.evaluation import is_classifier

    return is_classifier(model)


def _record_invocation(run_id: str | None, parameters: Mapping[str, Any]) -> None:
    if run_id is None:
        return
    from prefect.context import FlowRunContext

    from trackflow.tracked.provenance import invocation_tags
    from trackflow.tracking.fluent import get_client

    context = FlowRunContext.get()
    version = context.flow.version if context is not None and context.flow is not None else None
    tags = invocation_tags("trackflow.flows:training_pipeline", parameters, flow_version=version)
    get_client().set_tags(run_id, tags)


@flow(name="training-pipeline")
def training_pipeline(
    data: str = "sklearn:breast_cancer",
    target: str | None = None,
    estimator: str = DEFAULT_ESTIMATOR,
    estimator_params: dict[str, Any] | None = None,
    test_size: float = 0.25,
    random_state: int | None = 0,
    metrics: list[str] | None = None,
    model_name: str | None = None,
    stage: str = "staging",
    promote_if: str | None = None,
) -> PipelineResult:
    """Load ``data``, split it, fit ``estimator``, evaluate it and register the model.

    Args:
        data: ``sklearn:<name>`` (breast_cancer, iris, wine, diabetes, digits) or a CSV /
            parquet path or URL. In a deployment run (or ``trackflow run``) a path must be
            inside the allowed folders and a URL's scheme in ``TRACKFLOW_ALLOWED_DATA_SCHEMES``
            (see :mod:`trackflow.tasks.data`), checked before anything is read.
        target: The column to predict (``target`` for sklearn datasets).
        estimator: Import path of the estimator class (``sklearn.*``; more modules only
            via ``TRACKFLOW_ALLOWED_ESTIMATOR_MODULES`` in the worker's environment).
        estimator_params: Constructor parameters of the estimator.
        test_size: Fraction of rows held out for evaluation.
        random_state: Seed of the split and, unless ``estimator_params`` sets one, the estimator.
        metrics: Metric names (see :mod:`trackflow.tasks.evaluation`); defaults by task.
        model_name: Register the model under this name (no registration when None).
        stage: The stage the new version goes to (``staging`` by default).
        promote_if: A policy such as ``metrics.roc_auc >= production.metrics.roc_auc``;
            passing it promotes the new version to production.
    """
    from trackflow.tasks.data import load_dataset, split_dataset
    from trackflow.tasks.evaluation import evaluate_model
    from trackflow.tasks.register import register_model
    from trackflow.tasks.training import train_model
    from trackflow.tracking.context import active_run_id
    from trackflow.tracking.fluent import get_client

    given = dict(data=data, target=target, estimator=estimator, estimator_params=estimator_params,
                 test_size=test_size, random_state=random_state, metrics=metrics, model_name=model_name,
                 stage=stage, promote_if=promote_if)  # fmt: skip
    checked = check_training_parameters(**given)
    run_id = active_run_id()
    _record_invocation(run_id, given)
    column = checked["target"]
    frame = load_dataset(checked["data"], target=column)
    parts = split_dataset(frame, target=column, test_size=checked["test_size"], random_state=checked["random_state"],
                          stratify=checked["classifier"])
    model = train_model(parts["train"], target=column, estimator=checked["estimator"],
                        estimator_params=checked["estimator_params"], random_state=checked["random_state"])
    scores = evaluate_model(model, parts["test"], target=column, metrics=checked["metrics"])
    client = get_client()
    if run_id is not None:
        client.log_metrics(run_id, scores)
    result = PipelineResult(run_id=run_id, source=checked["data"], target=column, metrics=dict(scores))
    if checked["model_name"] is None:
        return result
    example = parts["test"].drop(columns=[column]).head(5)
    version = register_model(
        model, checked["model_name"], run_id=run_id, input_example=example, stage=checked["stage"],
        promote_if=checked["promote_if"], reason=f"trained by training-pipeline on {checked['data']}",
    )  # fmt: skip
    if run_id is not None:
        client.note(run_id, f"Registered {version.name} version {version.version}; it is in {version.stage.value}.",
                    kind="decision")
    return PipelineResult(
        run_id=run_id, source=checked["data"], target=column, metrics=dict(scores), model_name=version.name,
        version=version.version, stage=version.stage.value, model_uri=version.uri,
    )  # fmt: skip
