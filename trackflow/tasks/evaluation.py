"""Built-in evaluation task: ``evaluate_model`` scores a fitted model on held-out data.

Metric names:

* classifiers: ``accuracy``, ``balanced_accuracy``, ``precision``, ``recall``, ``f1``
  (binary average for two classes, weighted otherwise), ``roc_auc`` (one-vs-rest,
  weighted, for more than two classes) and ``log_loss`` (both need ``predict_proba``);
  default ``accuracy, f1, roc_auc``.
* regressors: ``r2``, ``rmse``, ``mse``, ``mae``, ``mape``; default ``r2, rmse, mae``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from trackflow.exceptions import InvalidInputError
from trackflow.tracked.decorators import task

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CLASSIFICATION_METRICS",
    "REGRESSION_METRICS",
    "default_metrics",
    "check_metrics",
    "compute_metrics",
    "is_classifier",
    "evaluate_model",
]

CLASSIFICATION_METRICS = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
REGRESSION_METRICS = ("r2", "rmse", "mse", "mae", "mape")
_DEFAULTS = {True: ("accuracy", "f1", "roc_auc"), False: ("r2", "rmse", "mae")}


def is_classifier(model: Any) -> bool:
    """Whether ``model`` (an estimator or its class) is a classifier."""
    from sklearn.base import is_classifier as sk_is_classifier

    try:
        return bool(sk_is_classifier(model))
    except (TypeError, AttributeError):
        return getattr(model, "_estimator_type", None) == "classifier"


def default_metrics(model: Any) -> tuple[str, ...]:
    """The metrics computed when none are named."""
    return _DEFAULTS[is_classifier(model)]


def check_metrics(model: Any, metrics: Sequence[str] | None) -> tuple[str, ...]:
    """The metric names to compute for ``model``; unknown or unfitting names raise."""
    if metrics is None:
        return default_metrics(model)
    if isinstance(metrics, str) or not all(isinstance(m, str) for m in metrics) or not metrics:
        raise InvalidInputError(f"metrics must be a non-empty list of metric names, got {metrics!r}.")
    allowed = CLASSIFICATION_METRICS if is_classifier(model) else REGRESSION_METRICS
    kind = "classifier" if is_classifier(model) else "regressor"
    bad = [m for m in metrics if m not in allowed]
    if bad:
        raise InvalidInputError(f"Metric(s) {bad} do not apply to a {kind}.", hint=f"Use any of: {', '.join(allowed)}.")
    return tuple(dict.fromkeys(metrics))


def _classification(name: str, model: Any, features: Any, truth: Any, predicted: Any) -> float:
    from sklearn import metrics as m

    classes = getattr(model, "classes_", None)
    binary = classes is not None and len(classes) == 2
    if name == "accuracy":
        return float(m.accuracy_score(truth, predicted))
    if name == "balanced_accuracy":
        return float(m.balanced_accuracy_score(truth, predicted))
    if name in ("precision", "recall", "f1"):
        scorer = {"precision": m.precision_score, "recall": m.recall_score, "f1": m.f1_score}[name]
        if binary and classes is not None:
            return float(scorer(truth, predicted, pos_label=classes[1], zero_division=0))
        return float(scorer(truth, predicted, average="weighted", zero_division=0))
    if not hasattr(model, "predict_proba"):
        return math.nan
    proba = model.predict_proba(features)
    if name == "log_loss":
        return float(m.log_loss(truth, proba, labels=classes))
    try:
        if binary:
            return float(m.roc_auc_score(truth, proba[:, 1]))
        return float(m.roc_auc_score(truth, proba, multi_class="ovr", average="weighted", labels=classes))
    except ValueError:  # one class only in the test set
        return math.nan


def _regression(name: str, truth: Any, predicted: Any) -> float:
    from sklearn import metrics as m

    if name == "r2":
        return float(m.r2_score(truth, predicted))
    mse = float(m.mean_squared_error(truth, predicted))
    if name == "mse":
        return mse
    if name == "rmse":
        return math.sqrt(mse)
    if name == "mae":
        return float(m.mean_absolute_error(truth, predicted))
    return float(m.mean_absolute_percentage_error(truth, predicted))


def compute_metrics(
    model: Any, data: pd.DataFrame, *, target: str, metrics: Sequence[str] | None = None
) -> dict[str, float]:
    """``{metric: value}`` of a fitted ``model`` on ``data`` (features + ``target`` column)."""
    names = check_metrics(model, metrics)
    if target not in data.columns:
        raise InvalidInputError(f"The evaluation data has no target column {target!r}.")
    features, truth = data.drop(columns=[target]), data[target]
    predicted = model.predict(features)
    if is_classifier(model):
        return {name: _classification(name, model, features, truth, predicted) for name in names}
    return {name: _regression(name, truth, predicted) for name in names}


@task(name="evaluate-model")
def evaluate_model(
    model: Any, test: pd.DataFrame, *, target: str, metrics: list[str] | None = None
) -> dict[str, float]:
    """Score ``model`` on ``test``; returns (and records) ``{metric: value}``."""
    return compute_metrics(model, test, target=target, metrics=metrics)
