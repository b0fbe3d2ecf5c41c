"""Save and load a model package: manifest, payload, signature and hashes.

A package is a directory::

    trackflow-model.yaml   manifest (format, payload + sha256, versions, signature, run)
    model.skops            payload (model.pkl when serialization="pickle")
    input_example.json     up to 5 example rows, pandas split-orient JSON
    requirements.txt       pinned libraries the payload needs
    python_env.yaml        MLflow virtualenv description (python + requirements.txt)
    MLmodel                MLflow interchange file (sklearn + python_function flavors)

Loading is defensive: the payload's sha256 is checked against the manifest (and against
the value the registry stored, when given) before anything is deserialized; skops payloads
are audited with ``skops.io.get_untrusted_types`` and only loaded when every reported type
is in :data:`TRUSTED_SKOPS_TYPES`, an allowlist built by :mod:`trackflow.registry.trusted_types`
(cached on disk per library versions) and never read from a package; pickle payloads load
only with ``allow_unsafe=True``.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import platform
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from trackflow.exceptions import (
    IntegrityError,
    InvalidInputError,
    NotFoundError,
    TrackflowError,
    UnsafeModelError,
)
from trackflow.registry.signature import (
    ModelSignature,
    as_dataframe,
    infer_signature,
    signature_from_estimator,
    validate_input,
)
from trackflow.registry.trusted_types import import_skops_io, trusted_skops_types, type_name

__all__ = [
    "warm_up",
    "FORMAT_VERSION", "MANIFEST_FILE", "TRUSTED_SKOPS_TYPES", "ModelManifest",
    "PackagedModel", "save_model", "read_manifest", "load_model", "payload_sha256",
]

FORMAT_VERSION = 1
MANIFEST_FILE = "trackflow-model.yaml"
_MLMODEL_FILE = "MLmodel"
_EXAMPLE_FILE = "input_example.json"
_REQUIREMENTS_FILE = "requirements.txt"
_PYTHON_ENV_FILE = "python_env.yaml"
_PAYLOAD_NAMES = {"skops": "model.skops", "pickle": "model.pkl"}
_EXAMPLE_ROWS = 5
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

# ---------------------------------------------------------------------------- allowlist

TRUSTED_SKOPS_TYPES: frozenset[str]
"""Fully-qualified type names a skops payload may contain (computed lazily on first use, or
read from the on-disk cache of :mod:`trackflow.registry.trusted_types`): every estimator
class of ``sklearn.utils.all_estimators()``, every class defined in a few sklearn modules of
plain fitted state, and explicit helper types. Never extended from a package."""

_warm_up_started = threading.Event()


def warm_up() -> None:
    """Import skops and build the trusted-type allowlist in a background thread (once).

    Without a cache, importing skops and walking scikit-learn's estimators takes ~0.5 s;
    importing the ``register_model`` task starts this, so it overlaps a flow's training
    instead of delaying the first save. Reading the registry never starts it (fast
    ``trackflow models`` commands).
    """
    if _warm_up_started.is_set():
        return
    _warm_up_started.set()
    threading.Thread(target=_warm, name="trackflow-skops-warm-up", daemon=True).start()


def _warm() -> None:
    try:
        trusted_skops_types()
    except Exception:  # noqa: BLE001 - a warm-up only; the real call reports errors
        pass


def __getattr__(name: str) -> Any:
    if name == "TRUSTED_SKOPS_TYPES":
        return trusted_skops_types()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ----------------------------------------------------------------------------- manifest


_MANIFEST_TYPES: dict[str, tuple[type, ...]] = {
    "flavor": (str,), "serialization": (str,), "payload": (str,), "payload_sha256": (str,),
    "library_versions": (dict,), "signature": (dict, type(None)), "requirements": (list,),
    "run_id": (str, type(None)), "created_at": (str,), "model_class": (str,),
}


@dataclass(frozen=True, kw_only=True)
class ModelManifest:
    """Contents of ``trackflow-model.yaml``: what the payload is and how it was made."""

    format_version: int = FORMAT_VERSION
    flavor: str = "sklearn"
    serialization: str = "skops"
    payload: str = "model.skops"
    payload_sha256: str
    library_versions: dict[str, str] = field(default_factory=dict)
    signature: dict[str, Any] | None = None
    requirements: tuple[str, ...] = ()
    run_id: str | None = None
    created_at: str
    model_class: str

    def to_dict(self) -> dict[str, Any]:
        """Plain YAML-serializable form (inverse of :meth:`from_dict`)."""
        return {**asdict(self), "requirements": list(self.requirements)}

    @classmethod
    def from_dict(cls, data: Any) -> ModelManifest:
        """Validate and build a manifest; anything malformed raises InvalidInputError."""
        if not isinstance(data, Mapping):
            raise InvalidInputError("model manifest is not a mapping")
        if data.get("format_version") != FORMAT_VERSION:
            raise InvalidInputError(
                f"unsupported model package format_version {data.get('format_version')!r}",
                hint=f"this trackflow reads format_version {FORMAT_VERSION}; upgrade trackflow",
            )
        bad = [k for k, kinds in _MANIFEST_TYPES.items() if not isinstance(data.get(k), kinds)]
        if not bad and not all(isinstance(v, str) for v in data["library_versions"].values()):
            bad.append("library_versions")
        if not bad and not all(isinstance(r, str) for r in data["requirements"]):
            bad.append("requirements")
        if bad:
            raise InvalidInputError(f"model manifest has missing or malformed field(s): {bad}")
        if data["flavor"] != "sklearn":
            raise InvalidInputError(f"unsupported model flavor {data['flavor']!r}")
        if _PAYLOAD_NAMES.get(data["serialization"]) != data["payload"]:  # no path traversal
            raise InvalidInputError(f"manifest payload/serialization invalid: {data['payload']!r}")
        if not _SHA256.match(data["payload_sha256"]):
            raise InvalidInputError("manifest payload_sha256 is not a sha256 hex digest")
        if data.get("signature") is not None:
            ModelSignature.from_dict(data["signature"])  # raises when malformed
        fields: dict[str, Any] = {key: data.get(key) for key in _MANIFEST_TYPES}
        fields["requirements"] = tuple(fields["requirements"])
        return cls(format_version=FORMAT_VERSION, **fields)


def read_manifest(path: str | os.PathLike[str]) -> ModelManifest:
    """Read the manifest of the package at ``path``: NotFoundError when there is none,
    InvalidInputError when it is not valid YAML or has missing/malformed fields."""
    return _read_manifest(Path(path))


def _read_manifest(root: Path, expected_sha256: str | None = None) -> ModelManifest:
    """The manifest, parsed from the very bytes checked against ``expected_sha256`` (when given)."""
    manifest_file = root / MANIFEST_FILE
    if not manifest_file.is_file():
        raise NotFoundError(
            f"no trackflow model package at {root}: {MANIFEST_FILE} is missing",
            hint="pass the directory written by save_model()",
        )
    data = manifest_file.read_bytes()
    if expected_sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != str(expected_sha256).strip().lower():
            raise IntegrityError(
                f"{MANIFEST_FILE} of {root} has sha256 {actual}, expected {expected_sha256}",
                hint="the manifest was modified after the package was registered; nothing was deserialized",
            )
    try:
        raw = yaml.safe_load(data.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"model manifest {manifest_file} is not valid YAML: {exc}") from exc
    return ModelManifest.from_dict(raw)


def _payload_file(root: Path, manifest: ModelManifest) -> Path:
    payload = root / manifest.payload  # from_dict pins the name: no path traversal
    if not payload.is_file():
        raise IntegrityError(f"model package {root} is incomplete: {manifest.payload} is missing")
    return payload


def payload_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 hex digest of the payload file of the package at ``path``."""
    root = Path(path)
    digest = hashlib.sha256()
    with _payload_file(root, read_manifest(root)).open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------------- save


def _dist_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


def _library_versions() -> dict[str, str]:
    import sklearn

    return {
        "python": platform.python_version(), "sklearn": sklearn.__version__,
        "skops": _dist_version("skops"), "numpy": np.__version__, "pandas": pd.__version__,
        "trackflow": _dist_version("trackflow"),
    }


def _model_input(model: Any, frame: pd.DataFrame) -> pd.DataFrame | np.ndarray:
    """What to hand the estimator: the frame if it was fit with feature names, else values."""
    if hasattr(model, "feature_names_in_"):
        return frame
    return np.ascontiguousarray(frame.to_numpy())  # C order: stable float summation


def _serialize(model: Any, serialization: str) -> tuple[bytes, list[str]]:
    """Payload bytes and, for skops, the non-default types it contains."""
    if serialization == "pickle":
        if not callable(getattr(model, "predict", None)):
            raise InvalidInputError(f"{type(model).__name__} has no predict() method")
        return pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL), []
    from sklearn.base import BaseEstimator

    if not isinstance(model, BaseEstimator):
        raise InvalidInputError(
            f"only scikit-learn estimators can be saved with skops, got {type(model).__name__}",
            hint="pass serialization='pickle' explicitly for other models (unsafe to load)",
        )
    trusted = trusted_skops_types()  # first: waits for a build under way in another thread
    sio = import_skops_io()

    try:
        payload = sio.dumps(model)
    except Exception as exc:  # skops raises TypeError & co for objects it cannot persist
        raise InvalidInputError(f"skops cannot serialize {type(model).__name__}: {exc}") from exc
    reported = sorted(sio.get_untrusted_types(data=payload))
    outside = [name for name in reported if name not in trusted]
    if outside:
        raise InvalidInputError(
            f"the model contains types outside trackflow's skops allowlist: {outside}",
            hint="such a package could not be loaded safely; use serialization='pickle' "
            "(loading then needs allow_unsafe=True)",
        )
    return payload, reported


def _requirements(serialization: str, extra: Sequence[str]) -> tuple[str, ...]:
    if isinstance(extra, str) or not all(
        isinstance(item, str) and item.strip() and "\n" not in item for item in extra
    ):
        raise InvalidInputError(f"extra_requirements must be requirement strings, got {extra!r}")
    versions = _library_versions()
    pins = [f"scikit-learn=={versions['sklearn']}", f"skops=={versions['skops']}",
            f"numpy=={versions['numpy']}", f"pandas=={versions['pandas']}"]
    if serialization != "skops":
        pins.remove(f"skops=={versions['skops']}")
    return tuple(dict.fromkeys([*pins, *(item.strip() for item in extra)]))


def save_model(
    model: Any, path: str | os.PathLike[str], *,
    input_example: pd.DataFrame | np.ndarray | None = None, run_id: str | None = None,
    serialization: str = "skops", extra_requirements: Sequence[str] = (),
    training_schema: Sequence[Mapping[str, str]] | None = None,
) -> ModelManifest:
    """Write ``model`` as a package directory at ``path`` and return its manifest.

    ``path`` must not exist or be an empty directory. The package is written into a
    temporary sibling directory and renamed into place, so a failed save leaves nothing.
    ``serialization`` is ``"skops"`` (scikit-learn estimators, safe to load) or
    ``"pickle"`` (any model with ``predict``; loading it needs ``allow_unsafe=True``).
    The signature is inferred from ``input_example`` and the model's prediction on it;
    without an example, from the estimator's ``feature_names_in_`` / ``n_features_in_``
    with the dtypes ``training_schema`` (the training data's dataset schema) recorded.
    """
    target = Path(path)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InvalidInputError(
            f"cannot save a model package to {target}: it exists and is not an empty directory",
            hint="choose a new path; model packages are never overwritten",
        )
    if serialization not in _PAYLOAD_NAMES:
        raise InvalidInputError(f"unknown serialization {serialization!r}; use 'skops' or 'pickle'")
    if run_id is not None and (not isinstance(run_id, str) or not run_id):
        raise InvalidInputError("run_id must be a non-empty string or None")
    payload, skops_types = _serialize(model, serialization)
    example = signature = None
    if input_example is not None:
        example = as_dataframe(input_example).head(_EXAMPLE_ROWS)
        try:
            output = model.predict(_model_input(model, example))
        except Exception as exc:
            raise InvalidInputError(f"model.predict() failed on the input example: {exc}") from exc
        signature = infer_signature(example, output)
    else:
        signature = signature_from_estimator(model, training_schema)
    manifest = ModelManifest(
        serialization=serialization, payload=_PAYLOAD_NAMES[serialization],
        payload_sha256=hashlib.sha256(payload).hexdigest(), library_versions=_library_versions(),
        signature=None if signature is None else signature.to_dict(),
        requirements=_requirements(serialization, extra_requirements), run_id=run_id,
        created_at=datetime.now(timezone.utc).isoformat(timespec="microseconds"),
        model_class=type_name(type(model)),
    )
    files: dict[str, bytes | str] = {
        manifest.payload: payload,
        MANIFEST_FILE: yaml.safe_dump(manifest.to_dict(), sort_keys=False),
        _REQUIREMENTS_FILE: "".join(f"{line}\n" for line in manifest.requirements),
        **_mlflow_files(manifest, model, signature, skops_types, example is not None),
    }
    if example is not None:
        files[_EXAMPLE_FILE] = example.to_json(orient="split", index=False, date_format="iso")
    _write_atomically(target, files)
    return manifest


def _write_atomically(target: Path, files: Mapping[str, bytes | str]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        for name, content in files.items():
            raw = content if isinstance(content, bytes) else content.encode("utf-8")
            (staging / name).write_bytes(raw)
        if target.exists():
            target.rmdir()  # only ever an empty directory (checked), fails otherwise
        os.rename(staging, target)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            raise TrackflowError(f"could not write model package to {target}: {exc}") from exc
        raise


# ------------------------------------------------------------------- MLflow interchange


def _mlflow_files(
    manifest: ModelManifest, model: Any, signature: ModelSignature | None,
    skops_types: list[str], has_example: bool,
) -> dict[str, str]:
    """``MLmodel`` and ``python_env.yaml`` as ``mlflow.sklearn`` / ``mlflow.pyfunc`` read them."""
    versions = manifest.library_versions
    sklearn_flavor: dict[str, Any] = {
        "pickled_model": manifest.payload, "serialization_format": manifest.serialization,
        "sklearn_version": versions["sklearn"], "code": None,
    }
    if manifest.serialization == "skops":
        sklearn_flavor["skops_trusted_types"] = skops_types
    mlmodel: dict[str, Any] = {
        "artifact_path": "model",
        "flavors": {
            "python_function": {
                "loader_module": "mlflow.sklearn", "model_path": manifest.payload,
                "predict_fn": "predict", "env": {"virtualenv": _PYTHON_ENV_FILE},
                "python_version": versions["python"], "code": None,
            },
            "sklearn": sklearn_flavor,
        },
        "model_uuid": uuid.uuid4().hex,
        "utc_time_created": f"{datetime.fromisoformat(manifest.created_at):%Y-%m-%d %H:%M:%S.%f}",
    }
    if manifest.run_id is not None:
        mlmodel["run_id"] = manifest.run_id
    # a model fit on arrays (no feature names) gets a tensor spec: MLflow passes it an ndarray
    tensor = not hasattr(model, "feature_names_in_")
    if mlflow_signature := signature and signature.to_mlflow(tensor=tensor):
        mlmodel["signature"] = mlflow_signature
    if has_example:
        mlmodel["saved_input_example_info"] = {
            "artifact_path": _EXAMPLE_FILE, "type": "dataframe", "pandas_orient": "split",
        }
    python_env = {
        "python": versions["python"], "build_dependencies": [f"pip=={_dist_version('pip')}"],
        "dependencies": [f"-r {_REQUIREMENTS_FILE}"],
    }
    return {
        _MLMODEL_FILE: yaml.safe_dump(mlmodel, sort_keys=False),
        _PYTHON_ENV_FILE: yaml.safe_dump(python_env, sort_keys=False),
    }


# --------------------------------------------------------------------------------- load


@dataclass(frozen=True, eq=False)
class PackagedModel:
    """A loaded package: its manifest, signature and the raw estimator."""

    manifest: ModelManifest
    signature: ModelSignature | None
    model: Any

    def _prepare(self, data: Any) -> pd.DataFrame | np.ndarray:
        if self.signature is not None:
            frame = validate_input(self.signature, data)
        elif isinstance(data, np.ndarray):
            return data
        else:
            frame = as_dataframe(data)
        return _model_input(self.model, frame)

    def predict(self, data: Any) -> np.ndarray:
        """Validate ``data`` against the signature, then return ``model.predict``."""
        return np.asarray(self.model.predict(self._prepare(data)))

    def predict_proba(self, data: Any) -> np.ndarray:
        """Class probabilities, for estimators that have ``predict_proba``."""
        if not hasattr(self.model, "predict_proba"):
            raise InvalidInputError(f"{self.manifest.model_class} has no predict_proba()")
        return np.asarray(self.model.predict_proba(self._prepare(data)))


def load_model(
    path: str | os.PathLike[str], *, expected_sha256: str | None = None, allow_unsafe: bool = False,
    expected_manifest_sha256: str | None = None,
) -> PackagedModel:
    """Verify and load the package at ``path``.

    The payload's sha256 must equal the manifest's and, when given, ``expected_sha256``
    (the registry passes the digest it recorded) before anything is deserialized;
    otherwise IntegrityError; so must the manifest's sha256 equal ``expected_manifest_sha256``
    when given (checked on the bytes that are parsed). skops payloads load only when all their types are in
    :data:`TRUSTED_SKOPS_TYPES`, pickle payloads only with ``allow_unsafe=True``;
    otherwise UnsafeModelError.
    """
    root = Path(path)
    manifest = _read_manifest(root, expected_manifest_sha256)
    data = _payload_file(root, manifest).read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if expected_sha256 is not None and actual != str(expected_sha256).strip().lower():
        raise IntegrityError(
            f"payload of {root} has sha256 {actual}, expected {expected_sha256}",
            hint="the package was modified or truncated after it was registered",
        )
    if actual != manifest.payload_sha256:
        raise IntegrityError(
            f"payload of {root} has sha256 {actual}, manifest says {manifest.payload_sha256}",
            hint="the payload was modified or truncated after the package was saved",
        )
    if manifest.serialization == "skops":
        model = _load_skops(data, root, manifest)
    elif not allow_unsafe:
        raise UnsafeModelError(
            f"model package {root} holds a pickle payload, which can run arbitrary code on load",
            hint="load it with allow_unsafe=True only if you trust its origin",
        )
    else:
        try:
            model = pickle.loads(data)  # noqa: S301 - explicitly allowed by the caller
        except Exception as exc:
            raise TrackflowError(f"could not unpickle the payload of {root}: {exc}") from exc
    signature = None if manifest.signature is None else ModelSignature.from_dict(manifest.signature)
    return PackagedModel(manifest=manifest, signature=signature, model=model)


def _load_skops(data: bytes, root: Path, manifest: ModelManifest) -> Any:
    trusted = trusted_skops_types()  # first: waits for a build under way in another thread
    sio = import_skops_io()
    from skops.io.exceptions import UntrustedTypesFoundException

    try:  # audits the archive's schema without constructing any object
        reported = sio.get_untrusted_types(data=data)
    except Exception as exc:
        raise IntegrityError(
            f"payload of {root} is not a valid skops archive ({type(exc).__name__}: {exc})",
            hint="nothing was deserialized; the package is corrupt or was not written by trackflow",
        ) from exc
    outside = sorted(set(reported) - trusted)
    if outside:
        raise UnsafeModelError(
            f"payload of {root} contains types outside the skops allowlist: {outside}",
            hint="nothing was deserialized; only scikit-learn types are trusted",
        )
    try:
        return sio.loads(data, trusted=sorted(reported))  # audited subset of the allowlist
    except UntrustedTypesFoundException as exc:  # defence in depth: audited above
        raise UnsafeModelError(f"payload of {root} contains untrusted types: {exc}") from exc
    except Exception as exc:
        saved = manifest.library_versions.get("sklearn", "unknown")
        raise TrackflowError(
            f"could not load the skops payload of {root}: {type(exc).__name__}: {exc}",
            hint=f"it was saved with scikit-learn {saved}; install that version to load it",
        ) from exc
