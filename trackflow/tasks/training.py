"""Built-in training task: ``train_model`` builds an estimator from its import path and fits it.

Which estimators may be imported
    ``estimator`` is an import path such as ``sklearn.ensemble.RandomForestClassifier``.
    Because deployment parameters can be edited in the Prefect UI, importing any module
    named by a parameter would let whoever edits them run code on the worker. So only
    classes under ``sklearn.`` are allowed by default; the *environment* of the process
    that runs the flow opts in to more with a comma-separated list of module prefixes:
    ``TRACKFLOW_ALLOWED_ESTIMATOR_MODULES=xgboost,lightgbm,mycompany.models``. The class
    must offer ``fit`` and ``predict`` (the scikit-learn estimator API).
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from trackflow.exceptions import InvalidInputError
from trackflow.tracked.decorators import task

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ALLOWED_MODULES_ENV",
    "allowed_estimator_modules",
    "resolve_estimator",
    "build_estimator",
    "train_model",
]

ALLOWED_MODULES_ENV = "TRACKFLOW_ALLOWED_ESTIMATOR_MODULES"
_DEFAULT_MODULES = ("sklearn",)


def allowed_estimator_modules() -> tuple[str, ...]:
    """Module prefixes estimators may come from: ``sklearn`` plus the env opt-in list."""
    extra = [m.strip().rstrip(".") for m in os.environ.get(ALLOWED_MODULES_ENV, "").split(",") if m.strip()]
    return tuple(dict.fromkeys([*_DEFAULT_MODULES, *extra]))


def _allowed(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def resolve_estimator(path: Any) -> type:
    """The estimator class at import path ``path`` (restricted, see the module docstring)."""
    if not isinstance(path, str) or "." not in path.strip(". "):
        raise InvalidInputError(
            f"estimator must be an import path such as 'sklearn.ensemble.RandomForestClassifier', got {path!r}."
        )
    module_name, _, class_name = path.strip().rpartition(".")
    prefixes = allowed_estimator_modules()
    if not _allowed(module_name, prefixes):
        raise InvalidInputError(
            f"Estimator {path!r} is not in an allowed module ({', '.join(prefixes)}).",
            hint=f"Set {ALLOWED_MODULES_ENV}=<module prefix,...> in the environment that runs the flow to allow it.",
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidInputError(f"Cannot import module {module_name!r} of estimator {path!r}: {exc}") from None
    cls = getattr(module, class_name, None)
    if not inspect.isclass(cls):
        raise InvalidInputError(f"{module_name!r} has no estimator class {class_name!r}.")
    if not (callable(getattr(cls, "fit", None)) and callable(getattr(cls, "predict", None))):
        raise InvalidInputError(f"{path!r} is not an estimator: it needs fit() and predict().")
    return cls


def build_estimator(path: str, params: Mapping[str, Any] | None = None, *, random_state: int | None = None) -> Any:
    """An unfitted estimator: ``path`` with ``params``; ``random_state`` fills in when the
    estimator takes one and ``params`` does not set it (reproducible by default)."""
    cls = resolve_estimator(path)
    if params is not None and not isinstance(params, Mapping):
        raise InvalidInputError(f"estimator_params must be a mapping of parameter names to values, got {params!r}.")
    values = dict(params or {})
    try:
        estimator = cls()
        accepted = estimator.get_params(deep=False) if hasattr(estimator, "get_params") else {}
        if random_state is not None and "random_state" in accepted and "random_state" not in values:
            values["random_state"] = random_state
        unknown = sorted(set(values) - set(accepted)) if accepted or hasattr(estimator, "get_params") else []
        if unknown:
            raise InvalidInputError(
                f"{cls.__name__} has no parameter(s) {unknown}.", hint=f"Its parameters: {', '.join(sorted(accepted))}."
            )
        return estimator.set_params(**values) if values else estimator
    except InvalidInputError:
        raise
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"Cannot build {path} with {values}: {exc}") from None


@task(name="train-model")
def train_model(
    train: pd.DataFrame,
    *,
    target: str,
    estimator: str = "sklearn.ensemble.RandomForestClassifier",
    estimator_params: dict[str, Any] | None = None,
    random_state: int | None = 0,
) -> Any:
    """Fit ``estimator`` (import path + ``estimator_params``) on ``train`` minus ``target``.

    Returns the fitted estimator; the tracked task records its parameters, training
    metrics and the model package automatically.
    """
    if target not in train.columns:
        raise InvalidInputError(f"The training data has no target column {target!r}.")
    model = build_estimator(estimator, estimator_params, random_state=random_state)
    features = train.drop(columns=[target])
    try:
        return model.fit(features, train[target])
    except ValueError as exc:
        raise InvalidInputError(f"{type(model).__name__} could not be fitted on the training data: {exc}",
                                hint="Check the target column and that every feature is numeric.") from None
