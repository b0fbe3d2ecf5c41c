"""``trackflow deploy --work-pool`` run by a real ``prefect worker``: the run lands in the spec's experiment.

Everything is a real process on 127.0.0.1: ``prefect server start`` (its own PREFECT_HOME,
SQLite), a process work pool, the ``trackflow`` command, ``prefect deployment run`` and
``prefect worker start --run-once``, whose flow-run subprocess imports the reference
pipeline and records into a tracking SQLite file named by the worker's environment; the
same with ``trackflow deploy --serve``. The test process talks to that server over HTTP only
(the in-process harness serves the ``trackflow run`` test alone).
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_helpers import invoke
from process_helpers import background_process, free_port, run_command, server_process

from trackflow.deployments.spec import load_spec
from trackflow.exceptions import InvalidInputError
from trackflow.tracked.options import TrackingOptions, run_option_tags
from trackflow.tracking.client import Client

BUSY = "database is locked"  # Prefect's SQLite answers 503 under load: such commands are retried
FINAL_STATES = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def write_spec(folder: Path, name: str) -> Path:
    """A spec of the reference pipeline on a small CSV inside its folder."""
    from sklearn.datasets import load_iris

    (folder / "data").mkdir(parents=True, exist_ok=True)
    load_iris(as_frame=True).frame.rename(columns={"target": "species"}).to_csv(folder / "data/iris.csv", index=False)
    spec = folder / "trackflow.yaml"
    spec.write_text(
        f"name: {name}\n"
        "experiment: iris-nightly\n"
        'run_name: "iris-depth-{estimator_params[max_depth]}"\n'
        "tags: [team-ml]\n"
        "parameters:\n"
        "  data: data/iris.csv\n"
        "  target: species\n"
        "  estimator: sklearn.tree.DecisionTreeClassifier\n"
        "  estimator_params: {max_depth: 2}\n"
        "  metrics: [accuracy]\n"
    )
    return spec


def clean_environment(home: Path, port: int) -> dict[str, str]:
    """This process's environment without its Prefect / trackflow settings, pointed at the test's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "TRACKFLOW_"))}
    env.update({
        "PREFECT_HOME": str(home / "prefect-home"),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "INFO",
        "TRACKFLOW_HOME": str(home / "trackflow-home"),
        "TRACKFLOW_TRACKING_URI": f"sqlite:///{home / 'tracking.db'}",
        "TRACKFLOW_ARTIFACT_ROOT": str(home / "artifacts"),
    })  # fmt: skip
    return env


def trackflow_command() -> list[str]:
    """The installed ``trackflow`` script of this interpreter."""
    script = Path(sys.executable).with_name("trackflow")
    assert script.is_file(), f"no trackflow script next to {sys.executable}: pip install -e ."
    return [str(script)]


def api(url: str, method: str, path: str, body: Any = None, *, timeout: float = 120.0) -> Any:
    """One call to the Prefect REST API, retried while its SQLite database is busy (503 / locked)."""
    started = time.monotonic()
    while True:
        try:
            response = httpx.request(method, f"{url}{path}", json=body, timeout=30)
            if response.status_code < 500 and BUSY not in response.text:
                response.raise_for_status()
                return response.json()
        except httpx.TransportError:
            pass
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{method} {path} kept failing for {timeout:g} s")
        time.sleep(1)


def flow_runs_of(url: str, deployment_id: str) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = api(url, "POST", "/flow_runs/filter", {"deployments": {"id": {"any_": [deployment_id]}}})
    return runs


def wait_for(what: str, check: Any, *, timeout: float = 300.0, log: Path | None = None) -> Any:
    """Poll ``check()`` until it returns something truthy (patiently: two busy cores)."""
    started = time.monotonic()
    while not (found := check()):
        if time.monotonic() - started > timeout:
            shown = log.read_text(errors="replace")[-4000:] if log is not None and log.exists() else ""
            raise AssertionError(f"{what}: nothing after {timeout:g} s\n{shown}")
        time.sleep(1)
    return found


@dataclass(frozen=True)
class PrefectServer:
    """A ``prefect server start`` of this module, and the environment that talks to it."""

    url: str
    env: dict[str, str]
    home: Path

    def command(self, *args: str, log: str, **options: Any) -> str:
        """Run ``prefect <args>`` (retried while the server's SQLite is busy)."""
        return run_command([sys.executable, "-m", "prefect", *args], env=self.env, log=self.home / log, attempts=5,
                           retry_on=BUSY, **options)  # fmt: skip


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """A real Prefect server on a free 127.0.0.1 port, with its own PREFECT_HOME (SQLite)."""
    home = tmp_path_factory.mktemp("prefect-server")
    port = free_port()
    env = clean_environment(home, port)
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    url = f"http://127.0.0.1:{port}/api"
    with server_process(command, ready_url=f"{url}/health", env=env, log=home / "server.log"):
        yield PrefectServer(url=url, env=env, home=home)


def check_the_run(server: PrefectServer, flow_run: dict[str, Any], name: str) -> None:
    """The flow run is recorded in the spec's experiment, named by its template, with its values."""
    client = Client(server.env["TRACKFLOW_TRACKING_URI"], artifact_root=server.env["TRACKFLOW_ARTIFACT_ROOT"])
    [run] = [r for r in client.search_runs(experiments="iris-nightly")
             if r.flow_run_id == flow_run["id"] and r.kind == "flow"]
    assert run.name == "iris-depth-2"
    assert run.status.value == "FINISHED"
    assert run.params["estimator"] == "sklearn.tree.DecisionTreeClassifier"
    assert 0.5 < run.metrics["accuracy"] <= 1.0
    assert f"trackflow-spec:{name}" in run.tags["prefect.tags"] and "team-ml" in run.tags["prefect.tags"]
    tasks = client.get_child_runs(run.id)
    assert tasks and {t.experiment_name for t in tasks} == {"iris-nightly"}
    assert {t.status.value for t in tasks} == {"FINISHED"}
    recorded = {e.name for e in client.list_experiments()}
    assert "training-pipeline" not in recorded  # nothing went to the flow's default experiment


def test_a_worker_runs_a_deployed_spec_into_the_spec_experiment(prefect_server: PrefectServer, tmp_path: Path) -> None:
    server = prefect_server
    project = tmp_path / "project"
    name = f"iris-worker-{uuid.uuid4().hex[:8]}"
    pool = f"pool-{uuid.uuid4().hex[:6]}"
    spec = write_spec(project, name)
    server.command("work-pool", "create", pool, "--type", "process", log="pool.log")
    out = run_command([*trackflow_command(), "deploy", str(spec), "--work-pool", pool], env=server.env,
                      log=server.home / "deploy.log", attempts=5, retry_on=BUSY)  # fmt: skip
    assert f"Deployment training-pipeline/{name}" in out, out
    assert "Its runs record into experiment 'iris-nightly', named 'iris-depth-{estimator_params[max_depth]}'" in out
    deployment = api(server.url, "GET", f"/deployments/name/training-pipeline/{name}")
    assert set(deployment["tags"]) == {f"trackflow-spec:{name}", "team-ml", "trackflow.experiment:iris-nightly",
                                       "trackflow.run_name:iris-depth-{estimator_params[max_depth]}"}
    server.command("deployment", "run", f"training-pipeline/{name}", log="run.log")
    # the worker runs elsewhere than the spec: its data is reachable through TRACKFLOW_DATA_ROOTS only
    (tmp_path / "worker-cwd").mkdir()
    worker_env = {**server.env, "TRACKFLOW_DATA_ROOTS": str(project)}
    run_command([sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--run-once"], env=worker_env,
                log=server.home / "worker.log", cwd=tmp_path / "worker-cwd")  # fmt: skip
    [flow_run] = flow_runs_of(server.url, deployment["id"])
    worker_log = (server.home / "worker.log").read_text(errors="replace")
    assert flow_run["state_type"] == "COMPLETED", worker_log[-4000:]
    check_the_run(server, flow_run, name)


def test_a_served_deployment_runs_into_the_spec_experiment(prefect_server: PrefectServer, tmp_path: Path) -> None:
    server = prefect_server
    project = tmp_path / "project"
    name = f"iris-serve-{uuid.uuid4().hex[:8]}"
    spec = write_spec(project, name)
    serve_env = {**server.env, "TRACKFLOW_DATA_ROOTS": str(project)}
    log = server.home / "serve.log"
    with background_process([*trackflow_command(), "deploy", str(spec), "--serve"], env=serve_env, log=log,
                            cwd=tmp_path) as served:  # fmt: skip
        path = f"/deployments/name/training-pipeline/{name}"

        def deployed() -> Any:
            response = httpx.get(f"{server.url}{path}", timeout=30)
            return response.json() if response.status_code == 200 else None

        deployment = wait_for("the served deployment", deployed, log=log)
        api(server.url, "POST", f"/deployments/{deployment['id']}/create_flow_run", {})  # `prefect deployment run`

        def finished() -> Any:
            runs = flow_runs_of(server.url, deployment["id"])
            return runs if runs and runs[0]["state_type"] in FINAL_STATES else None

        [flow_run] = wait_for("the served flow run", finished, log=log)
        import psutil

        runner = psutil.Process(served.pid)  # stopped once its flow-run subprocess has exited by itself
        wait_for("the flow-run subprocess to exit", lambda: not runner.children(recursive=True), log=log)
    assert flow_run["state_type"] == "COMPLETED", log.read_text(errors="replace")[-4000:]
    check_the_run(server, flow_run, name)


# ---------------------------------------------------------------- the options a deployment carries


def test_run_option_tags_round_trip_and_override_the_flow_options() -> None:
    tags = run_option_tags(experiment="churn", run_name="fit-{n}")
    assert tags == ["trackflow.experiment:churn", "trackflow.run_name:fit-{n}"]
    own = TrackingOptions(experiment="flow-default", autolog=False)
    carried = own.from_run_tags(["team-ml", *tags])
    assert (carried.experiment, carried.run_name, carried.autolog) == ("churn", "fit-{n}", False)
    assert carried.format_run_name({"n": 3}) == "fit-3"
    assert own.from_run_tags(["team-ml"]) is own and own.from_run_tags(None) is own
    # two values (a run tagged by hand besides its deployment's tag): the first in sorted order, every time
    assert own.from_run_tags(["trackflow.experiment:b", "trackflow.experiment:a"]).experiment == "a"
    assert own.from_run_tags(["trackflow.experiment:  "]).experiment == "flow-default"  # blank: ignored
    assert run_option_tags() == []
    with pytest.raises(InvalidInputError, match="experiment"):
        run_option_tags(experiment=" ")


def test_a_deployment_run_takes_its_tags_and_refuses_a_memory_artifact_root(
    tracking_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.client.schemas.objects import FlowRun

    tags = ["trackflow.experiment:churn", "team-ml"]
    deployed = FlowRun(flow_id=uuid.uuid4(), deployment_id=uuid.uuid4(), name="brave-otter", tags=tags)
    local = FlowRun(flow_id=uuid.uuid4(), name="calm-heron", tags=tags)
    own = TrackingOptions(experiment="flow-default")
    assert own.for_flow_run(deployed).experiment == "churn" and own.for_flow_run(local).experiment == "churn"
    monkeypatch.setenv("TRACKFLOW_ARTIFACT_ROOT", "memory://runs")  # the fluent client follows the environment
    assert own.for_flow_run(local).experiment == "churn"  # a flow called in this process: its memory is its own
    with pytest.raises(InvalidInputError, match=r"'memory://runs' exists only .* flow run 'brave-otter' of a deploy"):
        own.for_flow_run(deployed)


def test_the_pipeline_deployment_carries_the_spec_options_as_tags(tmp_path: Path) -> None:
    from trackflow.deployments.scheduling import build_deployments

    spec = load_spec(write_spec(tmp_path, "iris-tags"))
    [deployment] = build_deployments(spec)
    assert set(deployment.tags) == {"trackflow-spec:iris-tags", "team-ml", "trackflow.experiment:iris-nightly",
                                    "trackflow.run_name:iris-depth-{estimator_params[max_depth]}"}
    plain = tmp_path / "plain.yaml"  # no experiment, no run name: nothing carried, as before
    plain.write_text("\n".join(line for line in spec.path.read_text().splitlines()  # type: ignore[union-attr]
                               if not line.startswith(("experiment:", "run_name:"))).replace("iris-tags", "plain"))
    [deployment] = build_deployments(load_spec(plain))
    assert set(deployment.tags) == {"trackflow-spec:plain", "team-ml"}


def test_deploy_serve_refuses_a_memory_artifact_root(
    tracking_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKFLOW_ARTIFACT_ROOT", "memory://served")
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")  # never reached: refused before
    code, out, err = invoke(["deploy", str(write_spec(tmp_path, "iris-serve")), "--serve"], capsys)
    assert code == 1
    assert "'memory://served' exists only in the process" in err and "--serve" in err
    assert "Serving" not in out


@pytest.mark.usefixtures("prefect_harness")
def test_trackflow_run_names_and_tags_the_run_like_the_deployment(
    tracking_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from trackflow.tracking.fluent import get_client

    code, out, err = invoke(["run", str(write_spec(tmp_path, "iris-local"))], capsys)
    assert code == 0, err
    [run] = get_client().search_runs(experiments="iris-nightly", filter="tags.`prefect.flow` = 'training-pipeline'")
    assert run.name == "iris-depth-2" and f"Run {run.id} (iris-depth-2) in experiment 'iris-nightly'" in out
    assert run.tags["prefect.tags"] == "team-ml" and run.tags["trackflow.spec_name"] == "iris-local"
