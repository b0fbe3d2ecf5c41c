"""``trackflow deploy``: a scheduled deployment in the Prefect API, and retraining on data change."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import invoke

pytestmark = pytest.mark.usefixtures("prefect_harness")


def write_project(folder: Path, name: str, *, extra: str = "") -> Path:
    from sklearn.datasets import load_iris

    (folder / "data").mkdir(parents=True, exist_ok=True)
    load_iris(as_frame=True).frame.rename(columns={"target": "species"}).to_csv(folder / "data/iris.csv", index=False)
    spec = folder / "trackflow.yaml"
    spec.write_text(
        f"name: {name}\n"
        "parameters:\n"
        "  data: data/iris.csv\n"
        "  target: species\n"
        "  estimator: sklearn.tree.DecisionTreeClassifier\n"
        "  estimator_params: {max_depth: 2}\n"
        "  metrics: [accuracy, f1]\n"
        f"{extra}"
    )
    return spec


def read_deployment(full_name: str) -> Any:
    from prefect.client.orchestration import get_client

    async def read() -> Any:
        async with get_client() as client:
            return await client.read_deployment_by_name(full_name)

    return asyncio.run(read())


def flow_runs_of(deployment_id: Any) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    async def read() -> list[Any]:
        async with get_client() as client:
            wanted = DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
            return await client.read_flow_runs(deployment_filter=wanted)

    return asyncio.run(read())


def test_deploy_creates_a_deployment_whose_cron_schedule_reads_back(
    tracking_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"iris-{uuid.uuid4().hex[:8]}"
    spec = write_project(tmp_path, name, extra='schedule: {cron: "0 3 * * 1", timezone: UTC}\ntags: [team-ml]\n')
    code, out, err = invoke(["deploy", str(spec)], capsys)
    assert code == 0, err
    assert f"Deployment training-pipeline/{name}" in out and "cron '0 3 * * 1' (UTC)" in out
    assert "--serve" in out and "prefect worker start" in out
    deployment = read_deployment(f"training-pipeline/{name}")
    [schedule] = deployment.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone, schedule.active) == ("0 3 * * 1", "UTC", True)
    assert deployment.entrypoint == "trackflow.flows.pipelines.training_pipeline"
    assert deployment.parameters["data"] == str((tmp_path / "data/iris.csv").resolve())
    assert set(deployment.tags) == {f"trackflow-spec:{name}", "team-ml"}
    # deploying again updates the same deployment
    code, _, err = invoke(["deploy", str(spec)], capsys)
    assert code == 0, err
    assert read_deployment(f"training-pipeline/{name}").id == deployment.id


def test_deploy_rejects_a_bad_spec_before_writing(
    tracking_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"bad-{uuid.uuid4().hex[:8]}"
    spec = write_project(tmp_path, name, extra="retrain_on:\n  data_changed: data/missing.csv\n")
    code, _, err = invoke(["deploy", str(spec)], capsys)
    assert code == 1 and "line 9" in err and "no file at" in err
    spec.write_text(spec.read_text().replace("retrain_on:\n  data_changed: data/missing.csv\n", "")
                    .replace("  metrics:", "  n_trees: 3\n  metrics:"))
    code, _, err = invoke(["deploy", str(spec)], capsys)
    assert code == 1 and "line 7" in err and "no parameter 'n_trees'" in err
    from prefect.exceptions import ObjectNotFound

    with pytest.raises(ObjectNotFound):
        read_deployment(f"training-pipeline/{name}")


def test_a_changed_data_file_starts_one_retraining_run(
    tracking_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from trackflow.deployments.scheduling import check_data_changed

    name = f"watch-{uuid.uuid4().hex[:8]}"
    spec = write_project(tmp_path, name, extra="retrain_on:\n  data_changed: data/iris.csv\n  check_every: 60\n")
    code, out, err = invoke(["deploy", str(spec)], capsys)
    assert code == 0, err
    assert f"check-data-changed/{name}-data-watch" in out
    watch = read_deployment(f"check-data-changed/{name}-data-watch")
    assert watch.schedules[0].schedule.interval.total_seconds() == 60
    main = read_deployment(f"training-pipeline/{name}")
    args = dict(path=str(tmp_path / "data/iris.csv"), deployment=f"training-pipeline/{name}", spec_name=name)

    never_trained = check_data_changed(**args)
    again = check_data_changed(**args)  # same change, same idempotency key: no second run
    assert never_trained["changed"] and never_trained["previous"] is None
    assert again["flow_run_id"] == never_trained["flow_run_id"]
    assert [str(r.id) for r in flow_runs_of(main.id)] == [never_trained["flow_run_id"]]

    code, _, err = invoke(["run", str(spec)], capsys)  # a run trains on the current file
    assert code == 0, err
    assert check_data_changed(**args)["changed"] is False

    data = tmp_path / "data/iris.csv"
    data.write_text(data.read_text().replace("5.1,3.5,1.4,0.2,0", "5.2,3.5,1.4,0.2,0", 1))
    changed = check_data_changed(**args)
    assert changed["changed"] and changed["previous"] == never_trained["current"] != changed["current"]
    runs = {str(r.id) for r in flow_runs_of(main.id)}
    assert runs == {never_trained["flow_run_id"], changed["flow_run_id"]}
