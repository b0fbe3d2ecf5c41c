"""Tests for trackflow.registry.model_format: package layout, round trips, safety."""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import pickle
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sklearn
import skops.io as sio
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from trackflow.exceptions import (
    IntegrityError,
    InvalidInputError,
    NotFoundError,
    TrackflowError,
    UnsafeModelError,
)
from trackflow.registry import model_format
from trackflow.registry.model_format import (
    MANIFEST_FILE,
    TRUSTED_SKOPS_TYPES,
    ModelManifest,
    load_model,
    payload_sha256,
    read_manifest,
    save_model,
)

from ci_gate import unavailable

RNG = np.random.default_rng(7)


@pytest.fixture(scope="module")
def table() -> tuple[pd.DataFrame, np.ndarray]:
    frame = pd.DataFrame(
        {
            "age": RNG.integers(18, 80, 200),
            "income": RNG.normal(50_000, 10_000, 200),
            "city": RNG.choice(["paris", "lyon", "nice"], 200),
        }
    )
    target = ((frame["income"] > 50_000) ^ (frame["city"] == "nice")).astype(int).to_numpy()
    return frame, target


@pytest.fixture(scope="module")
def forest(table: tuple[pd.DataFrame, np.ndarray]) -> RandomForestClassifier:
    frame, target = table
    return RandomForestClassifier(n_estimators=10, random_state=0).fit(
        frame[["age", "income"]], target
    )


@pytest.fixture
def forest_package(
    tmp_path: Path, forest: RandomForestClassifier, table: tuple[pd.DataFrame, np.ndarray]
) -> tuple[Path, ModelManifest]:
    path = tmp_path / "forest"
    manifest = save_model(
        forest, path, input_example=table[0][["age", "income"]], run_id="run-123"
    )
    return path, manifest


def _numeric(table: tuple[pd.DataFrame, np.ndarray]) -> pd.DataFrame:
    return table[0][["age", "income"]]


def _forge(package: Path, payload: bytes, *, serialization: str = "skops") -> None:
    """Replace a package's payload and make its manifest agree (sha, names)."""
    manifest = yaml.safe_load((package / MANIFEST_FILE).read_text())
    for name in ("model.skops", "model.pkl"):
        (package / name).unlink(missing_ok=True)
    name = {"skops": "model.skops", "pickle": "model.pkl"}[serialization]
    (package / name).write_bytes(payload)
    manifest.update(
        serialization=serialization, payload=name,
        payload_sha256=hashlib.sha256(payload).hexdigest(),
    )
    (package / MANIFEST_FILE).write_text(yaml.safe_dump(manifest))


class _Exploit:
    """Pickles to a call that creates a marker file: proves whether pickle ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[Path]]:
        return (pathlib.Path.touch, (self.marker,))


class _Custom:
    """A type no allowlist knows; its __setstate__ would leave a trace if skops built it."""

    def __setstate__(self, state: dict) -> None:  # pragma: no cover - must never run
        Path(state["trace"]).touch()


# ------------------------------------------------------------------------- round trips


def test_random_forest_round_trip(
    forest_package: tuple[Path, ModelManifest],
    forest: RandomForestClassifier,
    table: tuple[pd.DataFrame, np.ndarray],
) -> None:
    path, manifest = forest_package
    loaded = load_model(path, expected_sha256=manifest.payload_sha256)
    data = _numeric(table)
    assert type(loaded.model) is RandomForestClassifier
    np.testing.assert_array_equal(loaded.predict(data), forest.predict(data))
    np.testing.assert_array_equal(loaded.predict_proba(data), forest.predict_proba(data))


def test_logistic_regression_on_arrays_round_trip(tmp_path: Path) -> None:
    features = RNG.normal(size=(100, 4))
    labels = (features[:, 0] + features[:, 1] > 0).astype(int)
    model = LogisticRegression().fit(features, labels)
    save_model(model, tmp_path / "lr", input_example=features)
    loaded = load_model(tmp_path / "lr")
    assert loaded.signature is not None and loaded.signature.column_names == ["0", "1", "2", "3"]
    np.testing.assert_array_equal(loaded.predict(features), model.predict(features))
    np.testing.assert_array_equal(loaded.predict_proba(features), model.predict_proba(features))
    mlmodel = yaml.safe_load((tmp_path / "lr" / "MLmodel").read_text())
    assert json.loads(mlmodel["signature"]["inputs"])[0]["type"] == "tensor"


def test_pipeline_with_column_transformer_round_trip(
    tmp_path: Path, table: tuple[pd.DataFrame, np.ndarray]
) -> None:
    frame, target = table
    pipeline = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        ("num", StandardScaler(), ["age", "income"]),
                        ("cat", OneHotEncoder(handle_unknown="ignore"), ["city"]),
                    ]
                ),
            ),
            ("clf", LogisticRegression(max_iter=500)),
        ]
    ).fit(frame, target)
    save_model(pipeline, tmp_path / "pipe", input_example=frame)
    loaded = load_model(tmp_path / "pipe")
    np.testing.assert_array_equal(loaded.predict(frame), pipeline.predict(frame))
    np.testing.assert_array_equal(loaded.predict_proba(frame), pipeline.predict_proba(frame))
    records = frame.head(3).to_dict(orient="records")
    np.testing.assert_array_equal(loaded.predict(records), pipeline.predict(frame.head(3)))


def test_regressor_round_trip(tmp_path: Path, table: tuple[pd.DataFrame, np.ndarray]) -> None:
    data = _numeric(table)
    model = GradientBoostingRegressor(n_estimators=20, random_state=0).fit(data, data["income"] / 7)
    save_model(model, tmp_path / "gbr", input_example=data)
    loaded = load_model(tmp_path / "gbr")
    np.testing.assert_array_equal(loaded.predict(data), model.predict(data))
    assert loaded.signature is not None and loaded.signature.output["dtype"] == "float64"
    with pytest.raises(InvalidInputError, match="predict_proba"):
        loaded.predict_proba(data)


def test_pickle_serialization_needs_allow_unsafe(
    tmp_path: Path, forest: RandomForestClassifier, table: tuple[pd.DataFrame, np.ndarray]
) -> None:
    manifest = save_model(forest, tmp_path / "pkl", serialization="pickle")
    assert manifest.payload == "model.pkl" and (tmp_path / "pkl" / "model.pkl").is_file()
    assert not any("skops" in line for line in manifest.requirements)
    with pytest.raises(UnsafeModelError):
        load_model(tmp_path / "pkl")
    loaded = load_model(tmp_path / "pkl", allow_unsafe=True)
    assert loaded.signature is not None and loaded.signature.column_names == ["age", "income"]  # feature_names_in_
    data = _numeric(table)
    np.testing.assert_array_equal(loaded.predict(data), forest.predict(data))


# ---------------------------------------------------------------- manifest & files


def test_manifest_contents(
    forest_package: tuple[Path, ModelManifest], table: tuple[pd.DataFrame, np.ndarray]
) -> None:
    path, manifest = forest_package
    payload = (path / "model.skops").read_bytes()
    assert manifest.payload_sha256 == hashlib.sha256(payload).hexdigest() == payload_sha256(path)
    assert read_manifest(path) == manifest
    assert manifest.format_version == 1 and manifest.flavor == "sklearn"
    assert manifest.serialization == "skops" and manifest.payload == "model.skops"
    assert manifest.run_id == "run-123"
    assert manifest.model_class == "sklearn.ensemble._forest.RandomForestClassifier"
    assert set(manifest.library_versions) == {
        "python", "sklearn", "skops", "numpy", "pandas", "trackflow",
    }
    assert manifest.library_versions["sklearn"] == sklearn.__version__
    assert datetime.fromisoformat(manifest.created_at).utcoffset().total_seconds() == 0
    assert manifest.signature is not None
    assert [c["name"] for c in manifest.signature["inputs"]] == ["age", "income"]
    assert [c["dtype"] for c in manifest.signature["inputs"]] == ["int64", "float64"]
    assert manifest.signature["output"]["dtype"] == "int64"
    requirements = (path / "requirements.txt").read_text().splitlines()
    assert requirements == list(manifest.requirements)
    assert f"scikit-learn=={sklearn.__version__}" in requirements
    assert any(line.startswith("skops==") for line in requirements)
    example = pd.read_json(path / "input_example.json", orient="split")
    assert list(example.columns) == ["age", "income"] and len(example) == 5
    assert example["age"].tolist() == table[0]["age"].head(5).tolist()


def test_extra_requirements(tmp_path: Path, forest: RandomForestClassifier) -> None:
    manifest = save_model(forest, tmp_path / "m", extra_requirements=["lightgbm>=4"])
    assert manifest.requirements[-1] == "lightgbm>=4"
    assert manifest.signature is not None and not (tmp_path / "m" / "input_example.json").exists()
    with pytest.raises(InvalidInputError):
        save_model(forest, tmp_path / "n", extra_requirements="lightgbm")


def test_mlmodel_file(forest_package: tuple[Path, ModelManifest]) -> None:
    path, manifest = forest_package
    mlmodel = yaml.safe_load((path / "MLmodel").read_text())
    sk = mlmodel["flavors"]["sklearn"]
    assert sk["pickled_model"] == "model.skops" and sk["serialization_format"] == "skops"
    assert sk["sklearn_version"] == sklearn.__version__
    assert "sklearn.tree._tree.Tree" in sk["skops_trusted_types"]
    pyfunc = mlmodel["flavors"]["python_function"]
    assert pyfunc["loader_module"] == "mlflow.sklearn" and pyfunc["model_path"] == "model.skops"
    assert "data" not in pyfunc  # would make mlflow treat the payload as a legacy pickle
    assert (path / pyfunc["env"]["virtualenv"]).is_file()
    assert mlmodel["run_id"] == "run-123" and len(mlmodel["model_uuid"]) == 32
    inputs = json.loads(mlmodel["signature"]["inputs"])
    assert [(c["name"], c["type"]) for c in inputs] == [("age", "long"), ("income", "double")]
    assert mlmodel["saved_input_example_info"]["artifact_path"] == "input_example.json"
    python_env = yaml.safe_load((path / "python_env.yaml").read_text())
    assert python_env["dependencies"] == ["-r requirements.txt"]


MLFLOW_PYTHON = "TRACKFLOW_TEST_MLFLOW_PYTHON"
MLFLOW_LOAD = """
import json, sys
import numpy as np, pandas as pd
import mlflow.pyfunc
model = mlflow.pyfunc.load_model(sys.argv[1])
print(json.dumps(np.asarray(model.predict(pd.read_csv(sys.argv[2]))).tolist()))
"""


def test_mlflow_pyfunc_loads_package(
    forest_package: tuple[Path, ModelManifest],
    forest: RandomForestClassifier,
    table: tuple[pd.DataFrame, np.ndarray],
    tmp_path: Path,
) -> None:
    """MLflow's own ``mlflow.pyfunc.load_model`` loads the package and predicts as the model does.

    mlflow is not a trackflow dependency: it runs in the interpreter named by
    TRACKFLOW_TEST_MLFLOW_PYTHON (a virtualenv with mlflow-skinny, scikit-learn, pandas and
    skops; ``.ci/run`` builds one), without MLFLOW_ALLOW_PICKLE_DESERIALIZATION.
    """
    python = os.environ.get(MLFLOW_PYTHON)
    if not python:
        unavailable(f"the MLflow interchange test needs {MLFLOW_PYTHON}=<python of a virtualenv with "
                    "mlflow-skinny scikit-learn pandas skops> (mlflow is not a trackflow dependency)")
    assert Path(python).is_file(), f"{MLFLOW_PYTHON}={python} is not a file"
    path, _ = forest_package
    data = _numeric(table)
    data.to_csv(tmp_path / "input.csv", index=False)
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_ALLOW_PICKLE_DESERIALIZATION"}
    loaded = subprocess.run(
        [python, "-c", MLFLOW_LOAD, str(path), str(tmp_path / "input.csv")],
        env={**env, "MLFLOW_DISABLE_TELEMETRY": "true"}, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    predictions = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert predictions == forest.predict(data).tolist()


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (None, NotFoundError),
        ("format_version: [", InvalidInputError),
        ("- just a list", InvalidInputError),
        ("format_version: 99", InvalidInputError),
    ],
)
def test_read_manifest_errors(tmp_path: Path, content: str | None, error: type) -> None:
    tmp_path.joinpath("pkg").mkdir()
    if content is not None:
        tmp_path.joinpath("pkg", MANIFEST_FILE).write_text(content)
    with pytest.raises(error):
        read_manifest(tmp_path / "pkg")


@pytest.mark.parametrize(
    "change",
    [
        {"payload": "../outside.skops"},
        {"payload_sha256": "abc"},
        {"flavor": "pytorch"},
        {"serialization": "cloudpickle"},
        {"library_versions": "1.0"},
        {"signature": {"inputs": [{"name": "a", "dtype": "nope"}]}},
    ],
)
def test_read_manifest_rejects_malformed_fields(
    forest_package: tuple[Path, ModelManifest], change: dict
) -> None:
    path, _ = forest_package
    raw = yaml.safe_load((path / MANIFEST_FILE).read_text())
    (path / MANIFEST_FILE).write_text(yaml.safe_dump({**raw, **change}))
    with pytest.raises(InvalidInputError):
        load_model(path)


# ---------------------------------------------------------------------------- saving


def test_save_into_non_empty_dir_rejected(tmp_path: Path, forest: RandomForestClassifier) -> None:
    target = tmp_path / "busy"
    target.mkdir()
    (target / "keep.txt").write_text("precious")
    with pytest.raises(InvalidInputError, match="not an empty directory"):
        save_model(forest, target)
    assert [p.name for p in target.iterdir()] == ["keep.txt"]
    assert (target / "keep.txt").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy"]


def test_save_into_empty_dir_and_new_nested_path(
    tmp_path: Path, forest: RandomForestClassifier
) -> None:
    (tmp_path / "empty").mkdir()
    save_model(forest, tmp_path / "empty")
    save_model(forest, tmp_path / "a" / "b" / "c")
    for package in (tmp_path / "empty", tmp_path / "a" / "b" / "c"):
        assert (package / MANIFEST_FILE).is_file() and (package / "model.skops").is_file()
    assert not [p for p in tmp_path.rglob("*.tmp")]  # no staging directory left behind


@pytest.mark.parametrize(
    ("model", "kwargs"),
    [
        (object(), {}),
        (object(), {"serialization": "pickle"}),
        (RandomForestClassifier(), {"serialization": "json"}),
        (RandomForestClassifier(), {"input_example": pd.DataFrame({"a": [1.0]})}),
    ],
)
def test_save_rejects_bad_requests_and_writes_nothing(
    tmp_path: Path, model: Any, kwargs: dict
) -> None:
    with pytest.raises(InvalidInputError):
        save_model(model, tmp_path / "pkg", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_save_rejects_types_outside_allowlist(
    tmp_path: Path, forest: RandomForestClassifier
) -> None:
    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    model.helper_ = _Custom()
    with pytest.raises(InvalidInputError, match="_Custom"):
        save_model(model, tmp_path / "pkg")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- tampering


def test_flipped_byte_raises_integrity_error(forest_package: tuple[Path, ModelManifest]) -> None:
    path, manifest = forest_package
    payload = bytearray((path / "model.skops").read_bytes())
    payload[len(payload) // 2] ^= 0xFF
    (path / "model.skops").write_bytes(bytes(payload))
    with pytest.raises(IntegrityError, match="sha256"):
        load_model(path)
    with pytest.raises(IntegrityError):
        load_model(path, expected_sha256=manifest.payload_sha256)


def test_expected_sha_mismatch_raises_integrity_error(
    forest_package: tuple[Path, ModelManifest],
) -> None:
    path, _ = forest_package
    with pytest.raises(IntegrityError, match="expected"):
        load_model(path, expected_sha256="0" * 64)


def test_truncated_payload_raises_integrity_error(
    forest_package: tuple[Path, ModelManifest],
) -> None:
    path, _ = forest_package
    payload = (path / "model.skops").read_bytes()
    (path / "model.skops").write_bytes(payload[: len(payload) // 2])
    with pytest.raises(IntegrityError):
        load_model(path)
    _forge(path, payload[: len(payload) // 2])  # even with a matching manifest sha
    with pytest.raises(IntegrityError, match="not a valid skops archive"):
        load_model(path)


def test_missing_payload_raises_integrity_error(
    forest_package: tuple[Path, ModelManifest],
) -> None:
    path, _ = forest_package
    (path / "model.skops").unlink()
    with pytest.raises(IntegrityError, match="missing"):
        load_model(path)


def test_pickle_disguised_as_skops_never_executes(
    tmp_path: Path, forest_package: tuple[Path, ModelManifest]
) -> None:
    path, _ = forest_package
    marker = tmp_path / "pwned"
    _forge(path, pickle.dumps(_Exploit(marker)))
    with pytest.raises(TrackflowError):
        load_model(path)
    with pytest.raises(TrackflowError):
        load_model(path, allow_unsafe=True)  # manifest says skops: never unpickled
    assert not marker.exists()


def test_pickle_payload_without_allow_unsafe_never_executes(
    tmp_path: Path, forest_package: tuple[Path, ModelManifest]
) -> None:
    path, _ = forest_package
    marker = tmp_path / "pwned"
    _forge(path, pickle.dumps(_Exploit(marker)), serialization="pickle")
    with pytest.raises(UnsafeModelError):
        load_model(path)
    assert not marker.exists()
    load_model(path, allow_unsafe=True)  # the exploit is real: allowing it runs it
    assert marker.exists()


def test_skops_type_outside_allowlist_refused_before_loading(
    tmp_path: Path, forest_package: tuple[Path, ModelManifest], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = forest_package
    trace = tmp_path / "constructed"
    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    custom = _Custom()
    custom.trace = str(trace)
    model.helper_ = custom
    _forge(path, sio.dumps(model))

    def _never(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("skops.io.loads must not be reached")

    monkeypatch.setattr(sio, "loads", _never)
    with pytest.raises(UnsafeModelError, match="_Custom"):
        load_model(path)
    assert not trace.exists()


def test_allowlist_contents() -> None:
    assert isinstance(TRUSTED_SKOPS_TYPES, frozenset)
    assert TRUSTED_SKOPS_TYPES is model_format.TRUSTED_SKOPS_TYPES  # computed once
    for name in (
        "sklearn.ensemble._forest.RandomForestClassifier",
        "sklearn.pipeline.Pipeline",
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.neighbors._kd_tree.KDTree",
        "numpy.dtype",
    ):
        assert name in TRUSTED_SKOPS_TYPES
    assert not any("PyFunc" in name for name in TRUSTED_SKOPS_TYPES)
    assert not any(name.startswith(("builtins.eval", "os.", "subprocess.")) for name in
                   TRUSTED_SKOPS_TYPES)
