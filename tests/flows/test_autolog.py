"""The rules of automatic logging, on plain values (no flow needed)."""

from __future__ import annotations

import enum
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from trackflow.exceptions import InvalidInputError
from trackflow.tracked.autolog import FingerprintCache, is_data, param_value
from trackflow.tracked.options import UNSET, TrackingOptions
from trackflow.tracked.sklearn_metrics import (
    find_training_data,
    is_fitted_estimator,
    training_metrics,
)


class Color(enum.Enum):
    RED = "red"


def test_param_values() -> None:
    assert [param_value(v) for v in ("a", 3, 2.5, True, None, Color.RED, np.int64(4))] == [
        "a", "3", "2.5", "True", "None", "red", "4"
    ]  # fmt: skip
    assert param_value([64, 32]) == "[64, 32]" and param_value({"a": 1}) == '{"a": 1}'
    assert param_value(list(range(200))) == "list" and param_value(object()) == "object"
    assert param_value(Path("/x/y.csv")) == "/x/y.csv"
    assert is_data(pd.DataFrame({"a": [1]})) and is_data(np.ones(2)) and not is_data([1, 2])


def test_options_validate_and_update() -> None:
    options = TrackingOptions(experiment="e", run_name="fit-{n}")
    assert options.format_run_name({"n": 3}) == "fit-3" and options.format_run_name({}) == "fit-{n}"
    assert options.updated(autolog=False, experiment=UNSET) == TrackingOptions(experiment="e", run_name="fit-{n}", autolog=False)
    assert not TrackingOptions(autolog=False).params and not TrackingOptions(log_models=False).models
    with pytest.raises(InvalidInputError):
        TrackingOptions(experiment="")
    with pytest.raises(InvalidInputError):
        TrackingOptions(log_params="yes")  # type: ignore[arg-type]


def test_fingerprints_are_cached_per_object(tmp_path: Path) -> None:
    cache = FingerprintCache()
    frame = pd.DataFrame({"a": [1, 2, 3]})
    first = cache.fingerprint(frame)
    assert cache.fingerprint(frame) is first  # not hashed again
    frame.loc[0, "a"] = 10  # outputs refresh: an in-place change is seen
    assert cache.fingerprint(frame, refresh=True).fingerprint != first.fingerprint
    path = tmp_path / "d.csv"
    path.write_text("a\n1\n")
    assert cache.fingerprint(str(path)) is cache.fingerprint(path)


def test_training_data_rules() -> None:
    X, y = make_classification(n_samples=60, n_features=3, n_informative=2, n_redundant=0, random_state=0)
    frame = pd.DataFrame(X, columns=["f1", "f2", "f3"]).assign(label=y)
    model = LogisticRegression().fit(frame[["f1", "f2", "f3"]], frame["label"])
    # rule 1: X and y arguments
    found = find_training_data(model, {"X": frame[["f1", "f2", "f3"]], "y": frame["label"]})
    assert found is not None and list(found[0].columns) == ["f1", "f2", "f3"]
    # rule 2: a frame and the name of its target column
    found = find_training_data(model, {"df": frame.assign(extra=1.0), "target": "label"})
    assert found is not None and found[1].name == "label" and "extra" not in found[0].columns
    # rule 3: a frame with the model's features plus one more column
    found = find_training_data(model, {"data": frame})
    assert found is not None and found[1].name == "label"
    assert find_training_data(model, {"data": frame.assign(other=0)}) is None  # two candidates: no guess
    metrics = training_metrics(model, *find_training_data(model, {"data": frame}))  # type: ignore[misc]
    assert set(metrics) == {
        "training_accuracy_score", "training_precision_score", "training_recall_score", "training_f1_score",
        "training_log_loss", "training_roc_auc", "training_score",
    }  # fmt: skip


def test_regressors_pipelines_and_unfitted_models() -> None:
    X, y = make_regression(n_samples=40, n_features=2, noise=0.1, random_state=0)
    pipeline = make_pipeline(StandardScaler(), LinearRegression())
    assert not is_fitted_estimator(pipeline) and not is_fitted_estimator(LinearRegression)
    pipeline.fit(X, y)
    assert is_fitted_estimator(pipeline)
    metrics = training_metrics(pipeline, X, y)
    assert metrics["training_r2_score"] > 0.99
    assert metrics["training_root_mean_squared_error"] == pytest.approx(metrics["training_mean_squared_error"] ** 0.5)
    assert training_metrics(pipeline, X[:, :1], y) == {}  # cannot predict: no metrics, no error
