"""Untrusted specs stay in their folder: ``flow`` files and modules, ``data`` paths and URLs.

Checked when the spec is loaded (before anything is imported or read), for ``-P``
overrides, and again where the training pipeline resolves ``data`` at run time (a
deployment parameter may have been edited in the Prefect UI).
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import invoke

from trackflow.deployments.launch import load_flow
from trackflow.deployments.spec import load_spec, parse_spec
from trackflow.exceptions import InvalidInputError, TrackflowError

EVIL = (
    "from pathlib import Path\n"
    "Path({marker!r}).write_text('ran')\n"
    "import trackflow\n\n\n"
    "@trackflow.flow(name='evil')\n"
    "def flow() -> None:\n"
    "    pass\n"
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """``tmp_path/project`` (the spec's folder) with ``data/iris.csv``; ``tmp_path/secret.csv`` is outside."""
    from sklearn.datasets import load_iris

    folder = tmp_path / "project"
    (folder / "data").mkdir(parents=True)
    frame = load_iris(as_frame=True).frame
    frame.to_csv(folder / "data/iris.csv", index=False)
    frame.to_csv(tmp_path / "secret.csv", index=False)
    return folder


def _spec(folder: Path, body: str) -> Path:
    path = folder / "trackflow.yaml"
    path.write_text("name: confined\n" + body)
    return path


def _evil_file(where: Path) -> tuple[Path, Path]:
    marker = where.parent / "marker.txt"
    evil = where / "evil.py"
    evil.parent.mkdir(parents=True, exist_ok=True)
    evil.write_text(EVIL.format(marker=str(marker)))
    return evil, marker


# ------------------------------------------------------------------------------- flow


@pytest.mark.parametrize("flow", ["../outside/evil.py:flow", "{outside}/evil.py:flow", "link/evil.py:flow"])
def test_a_flow_file_outside_the_folder_is_refused_before_it_runs(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], flow: str
) -> None:
    evil, marker = _evil_file(tmp_path / "outside")
    (project / "link").symlink_to(evil.parent, target_is_directory=True)  # a symlink that escapes
    spec = _spec(project, f"flow: {flow.format(outside=evil.parent)}\n")
    with pytest.raises(InvalidInputError) as caught:
        load_spec(spec)
    message = str(caught.value)
    assert "line 2" in message and "`flow`" in message and "outside the spec's folder" in message, message
    assert caught.value.hint is not None and "TRACKFLOW_ALLOWED_FLOW_MODULES" in caught.value.hint
    with pytest.raises(InvalidInputError, match="outside the spec's folder"):
        load_flow(flow.format(outside=evil.parent), base_dir=project)  # the launcher checks too
    code, _out, err = invoke(["run", str(spec)], capsys)
    assert code != 0 and "outside the spec's folder" in err
    assert not marker.exists(), "the file's top level ran"


def test_a_flow_file_inside_the_folder_still_loads(project: Path) -> None:
    _evil_file(project / "pipelines")  # here "evil" is just the project's own flow file
    spec = load_spec(_spec(project, "flow: pipelines/evil.py:flow\n"))
    assert load_flow(spec.flow, base_dir=spec.directory).name == "evil"
    assert (project / "marker.txt").exists()


def test_flow_modules_need_the_allowlist(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRACKFLOW_ALLOWED_FLOW_MODULES", raising=False)
    for allowed in ("trackflow.flows:training_pipeline", "trackflow.flows.pipelines:training_pipeline"):
        assert load_spec(_spec(project, f"flow: {allowed}\n")).flow == allowed
    with pytest.raises(InvalidInputError) as caught:
        load_spec(_spec(project, "flow: this:flow\n"))
    assert "line 2" in str(caught.value) and "module 'this' is not under an allowed flow module (trackflow.flows)" in (
        str(caught.value))
    with pytest.raises(InvalidInputError, match="not under an allowed flow module"):
        load_flow("this:flow", base_dir=project)
    monkeypatch.setenv("TRACKFLOW_ALLOWED_FLOW_MODULES", "json, thispkg.flows")
    assert load_spec(_spec(project, "flow: json:loads\n")).flow == "json:loads"
    assert parse_spec("name: a\nflow: thispkg.flows.sub:f\n").flow == "thispkg.flows.sub:f"
    with pytest.raises(InvalidInputError, match="not under an allowed flow module"):
        parse_spec("name: a\nflow: thispkg.other:f\n")  # a prefix of a module, not of a name
    with pytest.raises(InvalidInputError, match="is a function, not a flow"):
        load_flow("json:loads", base_dir=project)  # allowed, imported, and then checked as before


def test_a_malformed_flow_module_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKFLOW_ALLOWED_FLOW_MODULES", "ok, not a module")
    with pytest.raises(InvalidInputError, match="TRACKFLOW_ALLOWED_FLOW_MODULES"):
        parse_spec("name: a\n")


# ------------------------------------------------------------------------------- data


@pytest.mark.parametrize(
    "data",
    ["../secret.csv", "{root}/secret.csv", "file://{root}/secret.csv", "data/../../secret.csv", "data/link.csv",
     "~/secret.csv"],
)
def test_data_outside_the_folder_is_refused(project: Path, tmp_path: Path, data: str) -> None:
    (project / "data/link.csv").symlink_to(tmp_path / "secret.csv")
    value = data.format(root=tmp_path)
    with pytest.raises(InvalidInputError) as caught:
        load_spec(_spec(project, f"parameters:\n  data: {value}\n  target: target\n"))
    message = str(caught.value)
    assert "line 3" in message and "`parameters.data`" in message and "is outside" in message, message
    assert caught.value.hint is not None and "TRACKFLOW_ALLOWED_DATA_SCHEMES" in caught.value.hint
    spec = load_spec(_spec(project, "parameters:\n  data: data/iris.csv\n  target: target\n"))
    with pytest.raises(InvalidInputError, match="`parameters.data`.*is outside"):
        spec.flow_parameters({"data": value})  # as from -P data=...


def test_data_inside_the_folder_and_sklearn_datasets_are_accepted(project: Path) -> None:
    (project / "data/alias.csv").symlink_to(project / "data/iris.csv")  # a symlink that stays inside
    for value in ("data/iris.csv", "./data/alias.csv", str(project / "data/iris.csv"), "sklearn:iris"):
        spec = load_spec(_spec(project, f"parameters:\n  data: {value}\n"))
        data = spec.flow_parameters()["data"]
        assert data == "sklearn:iris" or Path(data).resolve().is_relative_to(project.resolve())


def test_retrain_on_data_changed_must_stay_inside(project: Path) -> None:
    with pytest.raises(InvalidInputError, match="line 3: `retrain_on.data_changed` '../secret.csv' is not allowed"):
        load_spec(_spec(project, "retrain_on:\n  data_changed: ../secret.csv\n"))
    spec = load_spec(_spec(project, "retrain_on:\n  data_changed: data/iris.csv\n"))
    assert spec.retrain_on is not None and spec.retrain_on.data_changed == (project / "data/iris.csv").resolve()


@pytest.fixture
def local_server(project: Path) -> Iterator[str]:
    """A plain HTTP server on 127.0.0.1 serving the project folder."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(project), **kwargs)  # type: ignore[arg-type]

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_urls_need_their_scheme_in_the_setting(project: Path, local_server: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from trackflow.tasks.data import data_roots, read_source

    monkeypatch.delenv("TRACKFLOW_ALLOWED_DATA_SCHEMES", raising=False)
    url = f"{local_server}/data/iris.csv"
    with pytest.raises(InvalidInputError) as caught:
        load_spec(_spec(project, f"parameters:\n  data: {url}\n"))
    assert "`parameters.data`" in str(caught.value) and "URL scheme 'http' is not allowed (allowed schemes: none" in (
        str(caught.value))
    with data_roots(project), pytest.raises(InvalidInputError, match="scheme 'http' is not allowed"):
        read_source(url)  # the worker side refuses it too, before fetching anything
    monkeypatch.setenv("TRACKFLOW_ALLOWED_DATA_SCHEMES", "https,HTTP")
    spec = load_spec(_spec(project, f"parameters:\n  data: {url}\n  target: target\n"))
    assert spec.flow_parameters()["data"] == url
    with data_roots(project):
        assert len(read_source(url)) == 150  # fetched from the local server
    with pytest.raises(InvalidInputError, match="scheme 's3' is not allowed"):
        load_spec(_spec(project, "parameters:\n  data: s3://bucket/d.csv\n"))


# -------------------------------------------------------------- at run time (the worker)


def test_a_deployment_run_refuses_edited_data_before_reading(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run from a deployment: ``data`` may have been edited in the Prefect UI."""
    from trackflow.flows.pipelines import check_training_parameters
    from trackflow.tasks import data as data_module

    monkeypatch.setattr(data_module, "_in_deployment_run", lambda: True)
    monkeypatch.delenv("TRACKFLOW_DATA_ROOTS", raising=False)
    monkeypatch.chdir(project)  # relative paths are read from the run's working directory, as before
    for value in (str(tmp_path / "secret.csv"), "../secret.csv", "http://127.0.0.1:9/internal/secret.csv"):
        with pytest.raises(InvalidInputError, match="`data` .* is not allowed in this run"):
            check_training_parameters(data=value, target="target")
        with pytest.raises(InvalidInputError, match="is not allowed in this run"):
            data_module.read_source(value)
    assert check_training_parameters(data="data/iris.csv", target="target")["data"] == "data/iris.csv"
    assert check_training_parameters(data="sklearn:iris")["data"] == "sklearn:iris"
    monkeypatch.setenv("TRACKFLOW_DATA_ROOTS", str(tmp_path / "elsewhere"))  # the worker's own choice
    with pytest.raises(InvalidInputError, match="is outside"):
        check_training_parameters(data=str(project / "data/iris.csv"), target="target")
    monkeypatch.setenv("TRACKFLOW_DATA_ROOTS", str(tmp_path))
    assert len(data_module.read_source(str(tmp_path / "secret.csv"))) == 150


def test_direct_calls_are_not_restricted(tmp_path: Path, project: Path) -> None:
    from trackflow.tasks.data import allowed_data_roots, read_source

    assert allowed_data_roots() is None  # your own code, not a spec or a deployment
    assert len(read_source(str(tmp_path / "secret.csv"))) == 150


@pytest.mark.usefixtures("prefect_harness")
def test_trackflow_run_keeps_the_pipeline_inside_the_spec_folder(
    tracking_home: Path, project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _spec(project, "parameters:\n  data: data/iris.csv\n  target: target\n"
                          "  estimator: sklearn.tree.DecisionTreeClassifier\n")
    code, out, err = invoke(["run", str(spec)], capsys)
    assert code == 0, err
    code, out, err = invoke(["run", str(spec), "-P", f"data={tmp_path / 'secret.csv'}"], capsys)
    assert code != 0 and "`parameters.data`" in err and "is outside" in err, err


def test_errors_are_trackflow_errors(project: Path) -> None:
    with pytest.raises(TrackflowError):
        parse_spec("name: a\nparameters: {data: /etc/passwd}\n", directory=project)


@pytest.mark.usefixtures("prefect_harness")
def test_a_real_deployment_run_checks_data_against_the_workers_folders(
    tracking_home: Path, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flow run created from a deployment, executed as a worker would (Prefect's flow engine)."""
    from prefect import get_client
    from prefect.flow_engine import run_flow

    from trackflow.flows.pipelines import training_pipeline

    monkeypatch.delenv("TRACKFLOW_DATA_ROOTS", raising=False)
    monkeypatch.chdir(project)
    deployment_id = training_pipeline.to_deployment(name="confined-probe").apply()
    outcomes: dict[str, tuple[bool, Any]] = {}
    for name, value in (("edited", str(tmp_path / "secret.csv")), ("inside", "data/iris.csv")):
        parameters = {"data": value, "target": "target", "estimator": "sklearn.tree.DecisionTreeClassifier"}
        with get_client(sync_client=True) as client:
            flow_run = client.create_flow_run_from_deployment(deployment_id, parameters=parameters)
        assert flow_run.deployment_id is not None
        state: Any = run_flow(training_pipeline, flow_run=flow_run, parameters=parameters, return_type="state")
        outcomes[name] = (state.is_completed(), state.result(raise_on_failure=False))
    assert outcomes["inside"][0], outcomes["inside"]
    failed, error = outcomes["edited"]
    assert not failed and isinstance(error, InvalidInputError) and "is not allowed in this run" in str(error)


def test_the_data_change_check_reads_only_allowed_files(tmp_path: Path) -> None:
    from trackflow.deployments.scheduling import check_data_changed
    from trackflow.tasks.data import data_roots

    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    secret = elsewhere / "secret.csv"
    secret.write_text("a,b\n1,2\n")
    # its `path` is a deployment parameter anyone with UI access can edit: checked before reading
    with data_roots(project), pytest.raises(InvalidInputError, match="not allowed"):
        check_data_changed.fn(str(secret), "pipeline/spec", "spec")
