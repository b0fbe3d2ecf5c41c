"""Training metrics of a fitted scikit-learn model, as MLflow's sklearn autolog logs them.

When a tracked task returns a fitted estimator, trackflow looks for the data it was fitted
on among the task's arguments, by the first rule that matches:

1. **X and y arguments**: one argument named ``X``, ``x``, ``X_train``, ``x_train`` or
   ``features`` and one named ``y``, ``y_train``, ``target``, ``labels`` or ``label``,
   both array-like (DataFrame, Series, ndarray, list) and of the same length.
2. **A DataFrame and the name of its target column**: a DataFrame argument and a ``str``
   argument named ``target``, ``target_col``, ``target_column``, ``label``,
   ``label_col``, ``label_column`` or ``y_col`` that names one of its columns;
   X is the frame without that column.
3. **A DataFrame holding the features and exactly one more column**: a DataFrame argument
   that contains every column of the model's ``feature_names_in_`` and exactly one other
   column, which is taken as the target.

X is reduced to ``feature_names_in_`` (in fit order) when the model has it. Nothing is
patched: metrics are computed after the task returned, on the task's own arguments.
Classifiers get ``training_accuracy_score``, ``training_precision_score``,
``training_recall_score``, ``training_f1_score`` (binary average for 0/1 or boolean
labels, weighted otherwise), ``training_log_loss`` and ``training_roc_auc`` (with
``predict_proba``) and ``training_score``; regressors get
``training_mean_squared_error``, ``training_root_mean_squared_error``,
``training_mean_absolute_error``, ``training_r2_score`` and ``training_score``.
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Mapping
from typing import Any

from trackflow.tracked.lazy_types import loaded_types

__all__ = ["TARGET_NAMES", "X_NAMES", "Y_NAMES", "find_training_data", "is_fitted_estimator", "training_metrics"]

logger = logging.getLogger("trackflow.flows")

X_NAMES = ("X", "x", "X_train", "x_train", "features")
Y_NAMES = ("y", "y_train", "target", "labels", "label")
TARGET_NAMES = ("target", "target_col", "target_column", "label", "label_col", "label_column", "y_col")


def is_fitted_estimator(value: Any) -> bool:
    """True for a fitted scikit-learn estimator or Pipeline (never imports sklearn itself)."""
    if "sklearn" not in sys.modules or isinstance(value, type):
        return False
    from sklearn.base import BaseEstimator
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    if not isinstance(value, BaseEstimator):
        return False
    try:
        check_is_fitted(value)
    except (NotFittedError, TypeError, ValueError, AttributeError):
        return False
    return True


def _frames() -> tuple[type[Any], ...]:
    return loaded_types("pandas", "DataFrame")


def _array_like(value: Any) -> bool:
    kinds = (list, *loaded_types("pandas", "DataFrame", "Series"), *loaded_types("numpy", "ndarray"))
    return isinstance(value, kinds)


def _features(model: Any, X: Any) -> Any:
    names = getattr(model, "feature_names_in_", None)
    if names is not None and isinstance(X, _frames()) and set(names) <= set(X.columns):
        return X[list(names)]
    return X


def find_training_data(model: Any, parameters: Mapping[str, Any]) -> tuple[Any, Any] | None:
    """(X, y) the model was fitted on, found among ``parameters`` by the documented rules."""
    X = next((parameters[n] for n in X_NAMES if _array_like(parameters.get(n))), None)
    y = next((parameters[n] for n in Y_NAMES if _array_like(parameters.get(n))), None)
    if X is not None and y is not None and len(X) == len(y):
        return _features(model, X), y
    frames = [v for v in parameters.values() if isinstance(v, _frames())]
    for name in TARGET_NAMES:
        target = parameters.get(name)
        if isinstance(target, str):
            for frame in frames:
                if target in frame.columns:
                    return _features(model, frame.drop(columns=[target])), frame[target]
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        wanted = set(names)
        for frame in frames:
            extra = [c for c in frame.columns if c not in wanted]
            if wanted <= set(frame.columns) and len(extra) == 1:
                return frame[list(names)], frame[extra[0]]
    return None


def training_metrics(model: Any, X: Any, y: Any) -> dict[str, float]:
    """MLflow-style ``training_*`` metrics of ``model`` on (X, y); {} when it cannot predict."""
    from sklearn.base import is_classifier, is_regressor

    try:
        if is_classifier(model):
            metrics = _classifier_metrics(model, X, y)
        elif is_regressor(model):
            metrics = _regressor_metrics(model, X, y)
        else:
            return {}
        metrics["training_score"] = float(model.score(X, y))
    except Exception as exc:
        logger.debug("trackflow: no training metrics for %s: %s", type(model).__name__, exc)
        return {}
    return {k: v for k, v in metrics.items() if not math.isnan(v)}


def _classifier_metrics(model: Any, X: Any, y: Any) -> dict[str, float]:
    import numpy as np
    from sklearn import metrics as m

    predicted = model.predict(X)
    labels = np.unique(np.asarray(y))
    binary = len(labels) == 2 and set(labels.tolist()) <= {0, 1}  # also True/False
    average = "binary" if binary else "weighted"
    out = {
        "training_accuracy_score": float(m.accuracy_score(y, predicted)),
        "training_precision_score": float(m.precision_score(y, predicted, average=average, zero_division=0)),
        "training_recall_score": float(m.recall_score(y, predicted, average=average, zero_division=0)),
        "training_f1_score": float(m.f1_score(y, predicted, average=average, zero_division=0)),
    }
    if hasattr(model, "predict_proba") and len(labels) >= 2:
        try:
            proba = model.predict_proba(X)
            out["training_log_loss"] = float(m.log_loss(y, proba, labels=model.classes_))
            if len(labels) == 2:
                out["training_roc_auc"] = float(m.roc_auc_score(y, proba[:, 1]))
            else:
                out["training_roc_auc"] = float(
                    m.roc_auc_score(y, proba, multi_class="ovr", average="weighted", labels=model.classes_)
                )
        except (ValueError, AttributeError, IndexError) as exc:
            logger.debug("trackflow: no probability metrics: %s", exc)
    return out


def _regressor_metrics(model: Any, X: Any, y: Any) -> dict[str, float]:
    from sklearn import metrics as m

    predicted = model.predict(X)
    mse = float(m.mean_squared_error(y, predicted))
    return {
        "training_mean_squared_error": mse,
        "training_root_mean_squared_error": math.sqrt(mse),
        "training_mean_absolute_error": float(m.mean_absolute_error(y, predicted)),
        "training_r2_score": float(m.r2_score(y, predicted)),
    }
