"""Loading registered models by URI: verified against the registry before deserializing."""

from __future__ import annotations

import hashlib
import pickle
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.linear_model import LogisticRegression

import trackflow as tf
from trackflow.exceptions import (
    IntegrityError,
    InvalidInputError,
    NotFoundError,
    UnsafeModelError,
)
from trackflow.registry.loading import load_model
from trackflow.tracking.client import Client


class Constant:
    """A picklable toy model."""

    def predict(self, data: Any) -> np.ndarray:
        return np.zeros(len(data), dtype=int)


class Evil(Constant):
    """Unpickling it writes ``marker`` (pickle stores the call, not the object)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (Path.write_text, (self.marker, "pwned"))


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return pd.DataFrame({"x": [0.1, 0.9, 0.2, 0.8, 0.3, 0.7], "y": [1, 5, 2, 6, 1, 7]})


@pytest.fixture(scope="module")
def model(frame: pd.DataFrame) -> LogisticRegression:
    return LogisticRegression().fit(frame, [0, 1, 0, 1, 0, 1])


def payload_file(client: Client, version: Any) -> Path:
    package = client.artifacts.local_path(f"{version.run_id}/model")
    manifest = yaml.safe_load((package / "trackflow-model.yaml").read_text())
    return package / manifest["payload"]


def rewrite_payload(client: Client, version: Any, data: bytes) -> None:
    """Replace the payload and make the package's own manifest agree with it."""
    package = client.artifacts.local_path(f"{version.run_id}/model")
    payload_file(client, version).write_bytes(data)
    manifest_path = package / "trackflow-model.yaml"
    manifest = yaml.safe_load(manifest_path.read_text())
    manifest["payload_sha256"] = hashlib.sha256(data).hexdigest()
    manifest_path.write_text(yaml.safe_dump(manifest, sort_keys=False))


def test_every_uri_form_loads_and_predicts(client: Client, model: Any, frame: pd.DataFrame) -> None:
    registry = client.registry
    run = client.create_run("churn")
    v1 = registry.register_model(model, "churn-clf", run_id=run.id, input_example=frame.head(3))
    registry.set_alias("churn-clf", "champion", 1)
    registry.transition("churn-clf", 1, "production")
    expected = model.predict(frame)
    for uri in ["models:/churn-clf@champion", "models:/churn-clf/production", "models:/churn-clf/1",
                "models:/churn-clf/latest", f"runs:/{run.id}/model"]:  # fmt: skip
        loaded = load_model(uri, client=client)
        assert (loaded.predict(frame) == expected).all()
        assert loaded.manifest.payload_sha256 == v1.payload_sha256
        assert loaded.signature is not None and loaded.signature.column_names == ["x", "y"]
    assert (tf.load_model("models:/churn-clf@champion").predict(frame.to_dict("records")) == expected).all()
    assert (registry.load_model("models:/churn-clf/1").predict(frame) == expected).all()
    with pytest.raises(InvalidInputError, match="missing column"):
        registry.load_model("models:/churn-clf/1").predict(frame[["x"]])
    with pytest.raises(NotFoundError, match=r"Versions: 1 \(production\); aliases: champion -> 1"):
        load_model("models:/churn-clf/staging", client=client)
    with pytest.raises(NotFoundError, match="No trackflow model package"):
        load_model(f"runs:/{run.id}/elsewhere", client=client)


def test_a_non_local_artifact_root_is_downloaded_first(client: Client, model: Any, frame: pd.DataFrame) -> None:
    remote = Client(client.tracking_uri, artifact_root=f"memory://trackflow-{uuid.uuid4().hex}")
    assert remote.artifacts.local_path("x") is None
    version = remote.registry.register_model(model, "remote", input_example=frame.head(2))
    remote.registry.set_alias("remote", "champion", version.version)
    assert (load_model("models:/remote@champion", client=remote).predict(frame) == model.predict(frame)).all()
    key = f"{version.run_id}/model/model.skops"
    data = bytearray(remote.artifacts.read_bytes(key))
    data[len(data) // 2] ^= 0xFF
    remote.artifacts.put_bytes(bytes(data), key)
    with pytest.raises(IntegrityError):
        load_model("models:/remote@champion", client=remote)


def test_a_tampered_payload_is_refused(client: Client, model: Any, frame: pd.DataFrame) -> None:
    registry = client.registry
    version = registry.register_model(model, "m", run_id=client.create_run("e").id)
    registry.set_alias("m", "champion", version.version)
    target = payload_file(client, version)
    data = bytearray(target.read_bytes())
    data[100] ^= 0x01  # flip one bit
    target.write_bytes(bytes(data))
    for uri in ["models:/m@champion", "models:/m/1", f"runs:/{version.run_id}/model"]:
        with pytest.raises(IntegrityError):
            load_model(uri, client=client)
    rewrite_payload(client, version, bytes(data))  # manifest updated too: the registry's digest still catches it
    with pytest.raises(IntegrityError, match="model.skops .*the registry recorded"):
        load_model("models:/m@champion", client=client)
    with pytest.raises(IntegrityError):  # and a tampered package is not registered again
        registry.create_version("m", source=version.source)
    assert [v.version for v in registry.list_versions("m")] == [1]


def test_a_malicious_pickle_never_runs_through_the_registry(client: Client, model: Any, tmp_path: Path) -> None:
    marker, control = tmp_path / "pwned", tmp_path / "control"
    pickle.loads(pickle.dumps(Evil(control)))  # the payload is real: plain unpickling writes the file
    assert control.read_text() == "pwned"
    registry = client.registry
    evil = registry.register_model(Evil(marker), "evil", run_id=client.create_run("e").id, serialization="pickle")
    for uri in ["models:/evil/1", "models:/evil/latest", f"runs:/{evil.run_id}/model"]:
        with pytest.raises(UnsafeModelError):
            load_model(uri, client=client)
    # a benign pickle package swapped for the evil payload: refused even with allow_unsafe=True
    benign = registry.register_model(Constant(), "benign", run_id=client.create_run("e").id, serialization="pickle")
    assert list(load_model("models:/benign/1", client=client, allow_unsafe=True).predict([[1], [2]])) == [0, 0]
    rewrite_payload(client, benign, pickle.dumps(Evil(marker)))
    with pytest.raises(IntegrityError):
        load_model("models:/benign/1", client=client, allow_unsafe=True)
    # a skops package whose payload is really a pickle: the skops audit refuses it
    skops = registry.register_model(model, "disguised", run_id=client.create_run("e").id)
    rewrite_payload(client, skops, pickle.dumps(Evil(marker)))
    client.log_artifact(skops.run_id, client.artifacts.local_path(f"{skops.run_id}/model"), "again")
    registered = registry.create_version("disguised", source=f"runs:/{skops.run_id}/again")
    for allow_unsafe in (False, True):
        with pytest.raises((IntegrityError, UnsafeModelError)):
            load_model(registered.uri, client=client, allow_unsafe=allow_unsafe)
    assert not marker.exists()


# ---------------------------------------------------------------- the whole package is verified

MANIFEST = "trackflow-model.yaml"


def _reverse_signature_columns(manifest: dict[str, Any]) -> None:
    manifest["signature"]["inputs"] = list(reversed(manifest["signature"]["inputs"]))


def _delete_signature(manifest: dict[str, Any]) -> None:
    manifest["signature"] = None


def _change_requirements(manifest: dict[str, Any]) -> None:
    manifest["requirements"] = [*manifest["requirements"], "evil-package==6.6.6"]


def edit_manifest(client: Client, version: Any, edit: Callable[[dict[str, Any]], None]) -> bytes:
    """Edit trackflow-model.yaml of the version's package in the artifact store; return the original bytes."""
    path = client.artifacts.local_path(f"{version.run_id}/model") / MANIFEST
    original = path.read_bytes()
    manifest = yaml.safe_load(original)
    edit(manifest)
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    assert path.read_bytes() != original
    return original


@pytest.mark.parametrize("edit", [_reverse_signature_columns, _delete_signature, _change_requirements])
def test_a_tampered_manifest_is_refused(
    client: Client, model: Any, frame: pd.DataFrame, edit: Callable[[dict[str, Any]], None]
) -> None:
    registry = client.registry
    version = registry.register_model(model, "m", run_id=client.create_run("e").id, input_example=frame.head(3))
    registry.set_alias("m", "champion", version.version)
    assert version.package_files is not None and version.package_files[MANIFEST]
    original = edit_manifest(client, version, edit)
    for uri in ["models:/m@champion", "models:/m/1", "models:/m/latest", f"runs:/{version.run_id}/model"]:
        with pytest.raises(IntegrityError, match=MANIFEST):
            load_model(uri, client=client)
    with pytest.raises(IntegrityError, match=MANIFEST):  # nor registered again
        registry.create_version("m", source=version.source)
    assert [v.version for v in registry.list_versions("m")] == [1]
    (client.artifacts.local_path(f"{version.run_id}/model") / MANIFEST).write_bytes(original)
    assert (load_model("models:/m@champion", client=client).predict(frame) == model.predict(frame)).all()


def test_every_file_of_the_package_is_recorded_and_checked(client: Client, model: Any, frame: pd.DataFrame) -> None:
    registry = client.registry
    version = registry.register_model(model, "m", run_id=client.create_run("e").id, input_example=frame.head(3))
    assert version.package_files is not None
    assert set(version.package_files) == {
        MANIFEST, "model.skops", "input_example.json", "requirements.txt", "python_env.yaml", "MLmodel"
    }
    assert registry.get_version("m", 1).package_files == version.package_files
    package = client.artifacts.local_path(f"{version.run_id}/model")
    for record in client.list_artifacts(version.run_id, "model"):
        assert version.package_files[record.path.split("/", 1)[1]] == record.sha256
    requirements = (package / "requirements.txt").read_bytes()
    (package / "requirements.txt").write_bytes(requirements + b"evil-package\n")
    with pytest.raises(IntegrityError, match="requirements.txt"):
        load_model("models:/m/1", client=client)
    (package / "requirements.txt").write_bytes(requirements)
    (package / "MLmodel").unlink()
    with pytest.raises(IntegrityError, match="MLmodel is missing"):
        load_model("models:/m/1", client=client)
    (package / "MLmodel").write_bytes(b"")
    with pytest.raises(IntegrityError, match="MLmodel"):
        load_model("models:/m/1", client=client)


def test_an_added_file_is_refused(client: Client, model: Any) -> None:
    version = client.registry.register_model(model, "m", run_id=client.create_run("e").id)
    (client.artifacts.local_path(f"{version.run_id}/model") / "sitecustomize.py").write_text("import os\n")
    for uri in ["models:/m/1", f"runs:/{version.run_id}/model"]:
        with pytest.raises(IntegrityError, match="not logged with it: sitecustomize.py"):
            load_model(uri, client=client)


def test_a_relogged_manifest_does_not_change_a_registered_version(
    client: Client, model: Any, frame: pd.DataFrame, tmp_path: Path
) -> None:
    """Logging the run's artifact again updates the run's records, not the registry's."""
    version = client.registry.register_model(model, "m", run_id=client.create_run("e").id, input_example=frame)
    edit_manifest(client, version, _reverse_signature_columns)
    tampered = tmp_path / MANIFEST
    tampered.write_bytes((client.artifacts.local_path(f"{version.run_id}/model") / MANIFEST).read_bytes())
    client.log_artifact(version.run_id, tampered, "model")  # the run's record now agrees with the file
    with pytest.raises(IntegrityError, match=f"{MANIFEST} .*the registry recorded"):
        load_model("models:/m/1", client=client)


def test_versions_registered_before_are_checked_against_the_logged_files(
    client: Client, model: Any, frame: pd.DataFrame
) -> None:
    registry = client.registry
    version = registry.register_model(model, "old", run_id=client.create_run("e").id, input_example=frame.head(3))
    with registry._store.transaction() as tx:  # as registered before 0004: no file digests
        tx.update_model_version("old", 1, {"package_files_json": None})
    old = registry.get_version("old", 1)
    assert old.package_files is None and old.payload_sha256 == version.payload_sha256
    assert (load_model("models:/old/1", client=client).predict(frame) == model.predict(frame)).all()
    original = edit_manifest(client, old, _delete_signature)
    with pytest.raises(IntegrityError, match=f"{MANIFEST} .*the run recorded"):
        load_model("models:/old/1", client=client)
    (client.artifacts.local_path(f"{old.run_id}/model") / MANIFEST).write_bytes(original)
    assert (load_model("models:/old/1", client=client).predict(frame) == model.predict(frame)).all()
