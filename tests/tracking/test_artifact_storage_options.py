"""``TRACKFLOW_ARTIFACT_STORAGE_OPTIONS`` and process-local (``memory://``) artifact roots.

The object-store test runs a real S3-compatible server (``moto_server``) on 127.0.0.1: an
artifact and a registered model go into ``s3://<bucket>/prefix`` through the storage options
(endpoint and credentials), and a fresh Python process with the same settings loads the model
back. Nothing can reach AWS: the endpoint is 127.0.0.1, the credentials are dummies, the
instance-metadata lookup is off and no AWS config file is read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from process_helpers import free_port, server_process

from trackflow.exceptions import InvalidInputError
from trackflow.settings import TrackflowSettings
from trackflow.tracking.artifact_roots import process_local_root, require_shared_root
from trackflow.tracking.artifacts import ArtifactStore
from trackflow.tracking.client import Client

OPTIONS_ENV = "TRACKFLOW_ARTIFACT_STORAGE_OPTIONS"


def settings_with(value: str) -> TrackflowSettings:
    return TrackflowSettings.from_env({"TRACKFLOW_HOME": "/tmp/unused", OPTIONS_ENV: value})


def test_storage_options_are_a_json_object_and_stay_out_of_reprs() -> None:
    options = {"client_kwargs": {"endpoint_url": "http://127.0.0.1:9"}, "key": "x", "secret": "s3cr3t"}
    settings = settings_with(json.dumps(options))
    assert settings.artifact_storage_options == options
    assert "s3cr3t" not in repr(settings)
    assert settings_with("").artifact_storage_options == {}
    assert TrackflowSettings.from_env({"TRACKFLOW_HOME": "/tmp/unused"}).artifact_storage_options == {}


@pytest.mark.parametrize(("value", "problem"), [
    ('{"key": "x"', "is not valid JSON"),
    ('["endpoint"]', "must be a JSON object, got a list"),
    ('"s3cr3t"', "must be a JSON object, got a str"),
    ("null", "must be a JSON object, got a NoneType"),
])  # fmt: skip
def test_bad_storage_options_name_the_variable(value: str, problem: str) -> None:
    with pytest.raises(InvalidInputError, match=problem) as raised:
        settings_with(value)
    assert OPTIONS_ENV in str(raised.value) and OPTIONS_ENV in (raised.value.hint or "")
    assert "s3cr3t" not in str(raised.value)


def test_the_root_is_opened_with_the_storage_options(monkeypatch: pytest.MonkeyPatch) -> None:
    root = f"memory://opts-{uuid.uuid4().hex}"
    monkeypatch.setenv(OPTIONS_ENV, json.dumps({"skip_instance_cache": True, "marker": "from-env"}))
    assert ArtifactStore(root)._fs.storage_options["marker"] == "from-env"
    given = ArtifactStore(root, storage_options={"skip_instance_cache": True, "marker": "given"})
    assert given._fs.storage_options["marker"] == "given"  # an explicit argument wins
    monkeypatch.setenv(OPTIONS_ENV, "[1]")
    with pytest.raises(InvalidInputError, match=OPTIONS_ENV):
        ArtifactStore(root)
    assert ArtifactStore("relative/folder").local_path("a") is not None  # a local root needs no options


def test_memory_roots_are_process_local_and_refused_where_runs_execute_elsewhere() -> None:
    assert process_local_root("memory://bucket/x") and process_local_root("MEMORY://x")
    assert not any(process_local_root(r) for r in ["s3://b/p", "/tmp/artifacts", "file:///tmp/a", "memoryless/x"])
    require_shared_root("s3://bucket/prefix", where="by a worker")  # nothing to refuse
    with pytest.raises(InvalidInputError, match=r"'memory://x' exists only in the process .* by a worker") as raised:
        require_shared_root("memory://x", where="by a worker")
    assert "TRACKFLOW_ARTIFACT_ROOT" in (raised.value.hint or "")


def test_registering_under_a_memory_root_warns_once(store_uri: str) -> None:
    from sklearn.dummy import DummyClassifier

    client = Client(store_uri, artifact_root=f"memory://warn-{uuid.uuid4().hex}")
    assert client.artifacts.process_local
    model = DummyClassifier(strategy="most_frequent").fit([[0], [1], [1]], [0, 1, 1])
    with pytest.warns(UserWarning, match=r"version 1 is stored under the artifact root 'memory://warn-.*only in this"):
        client.registry.register_model(model, "in-memory")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per root: the second version is quiet
        assert client.registry.register_model(model, "in-memory").version == 2
    shared = Client(store_uri)  # a local folder: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        shared.registry.register_model(model, "on-disk")


# ---------------------------------------------------------------- a real S3-compatible server


def offline_aws_environment() -> dict[str, str]:
    """Dummy credentials and no AWS config, metadata service or proxy: nothing can leave 127.0.0.1."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TRACKFLOW_"))}
    env.update({
        "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1",
    })  # fmt: skip
    return env


@pytest.fixture
def s3_endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A moto S3 server on a free 127.0.0.1 port; yields its storage options (bucket created)."""
    moto = Path(sys.executable).with_name("moto_server")
    if not moto.is_file():
        from ci_gate import unavailable

        unavailable("moto_server is not installed (pip install -e '.[test]')")
    env = offline_aws_environment()
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        if key.startswith("AWS_") or key.lower() == "no_proxy":
            monkeypatch.setenv(key, value)
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    command = [str(moto), "-H", "127.0.0.1", "-p", str(port)]
    with server_process(command, ready_url=f"{endpoint}/moto-api/", env=env, log=tmp_path / "moto.log"):
        options = {"client_kwargs": {"endpoint_url": endpoint}, "key": "x", "secret": "y",
                   "skip_instance_cache": True}  # fmt: skip
        import fsspec

        bucket = f"tf-{uuid.uuid4().hex[:12]}"
        fsspec.filesystem("s3", **options).mkdir(bucket)
        yield bucket, options, env


def test_artifacts_and_models_round_trip_through_an_s3_compatible_server(
    s3_endpoint: Any, tracking_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fsspec
    from sklearn.linear_model import LogisticRegression

    bucket, options, env = s3_endpoint
    settings = {
        "TRACKFLOW_HOME": str(tmp_path / "home"),
        "TRACKFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'tracking.db'}",
        "TRACKFLOW_ARTIFACT_ROOT": f"s3://{bucket}/prefix",
        OPTIONS_ENV: json.dumps(options),
    }
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    client = Client()
    run = client.create_run("s3-options")
    notes = tmp_path / "notes.txt"
    notes.write_text("trained on 30 rows\n")
    [artifact] = client.log_artifact(run.id, notes, "docs")
    assert artifact.uri == f"s3://{bucket}/prefix/{run.id}/docs/notes.txt"
    frame = pd.DataFrame({"x": [float(i) for i in range(30)], "y": [float(i % 3) for i in range(30)]})
    labels = [int(i >= 15) for i in range(30)]
    model = LogisticRegression().fit(frame, labels)
    version = client.registry.register_model(model, "s3-model", run_id=run.id, input_example=frame.head(2))
    client.end_run(run.id, "FINISHED")

    stored = fsspec.filesystem("s3", **options).find(f"{bucket}/prefix/{run.id}")  # what the server holds
    assert f"{bucket}/prefix/{run.id}/docs/notes.txt" in stored
    assert any(path.endswith("/model/trackflow-model.yaml") for path in stored)

    script = (
        "import json, sys\n"
        "import pandas as pd\n"
        "import trackflow as tf\n"
        "from trackflow.tracking.fluent import get_client\n"
        "frame = pd.DataFrame({'x': [0.0, 29.0], 'y': [0.0, 2.0]})\n"
        f"model = tf.load_model('models:/s3-model/{version.version}')\n"
        f"notes = get_client().read_artifact('{run.id}', 'docs/notes.txt').decode()\n"
        "print(json.dumps({'predictions': [int(p) for p in model.predict(frame)], 'notes': notes}))\n"
    )
    fresh = subprocess.run([sys.executable, "-c", script], env={**env, **settings}, capture_output=True, text=True,
                           timeout=240, cwd=tmp_path)  # fmt: skip
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    answer = json.loads(fresh.stdout.strip().splitlines()[-1])
    assert answer == {"predictions": [int(p) for p in model.predict(frame.iloc[[0, 29]])], "notes": "trained on 30 rows\n"}

    without = {**env, **settings, OPTIONS_ENV: "not json"}  # the same process without usable options: refused
    refused = subprocess.run([sys.executable, "-c", script], env=without, capture_output=True, text=True,
                             timeout=240, cwd=tmp_path)  # fmt: skip
    assert refused.returncode != 0 and f"{OPTIONS_ENV} is not valid JSON" in refused.stderr
