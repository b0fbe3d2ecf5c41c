"""Settings travel with the run: a separately started Dask cluster records into the flow's store.

The scheduler and workers are started by the test as their own processes on 127.0.0.1, with
an environment holding no ``TRACKFLOW_*`` variable and another ``HOME``: they learn the
tracking URI and artifact root from the flow run context Prefect sends with each task.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from process_helpers import free_port, server_process

import trackflow as tf
from trackflow import flow
from trackflow.exceptions import StoreError, TrackflowError
from trackflow.tracked import propagation

from .distributed_helpers import record_counts, work


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(scheduler address, the workers' HOME) of a scheduler and two single-thread workers."""
    from distributed import Client as DaskClient

    worker_home = tmp_path / "worker-home"
    worker_home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKFLOW_")}
    env.update(HOME=str(worker_home), PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    port, dashboard = free_port(), free_port()
    address = f"tcp://127.0.0.1:{port}"
    health = f"http://127.0.0.1:{dashboard}/health"
    scheduler = [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port),
                 "--dashboard-address", f"127.0.0.1:{dashboard}"]  # fmt: skip
    workers = [sys.executable, "-m", "distributed.cli.dask_worker", address, "--host", "127.0.0.1",
               "--nworkers", "2", "--nthreads", "1", "--no-dashboard", "--local-directory", str(tmp_path / "dask")]  # fmt: skip
    with (
        server_process(scheduler, ready_url=health, env=env, log=tmp_path / "scheduler.log"),
        server_process(workers, ready_url=health, env=env, log=tmp_path / "workers.log"),
        DaskClient(address, timeout=120) as dask,
    ):
        dask.wait_for_workers(2, timeout=180)
        yield address, worker_home


def test_separately_started_cluster_records_into_the_flows_store(
    cluster: tuple[str, Path], tracking_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect_dask import DaskTaskRunner

    address, worker_home = cluster
    uri = f"sqlite:///{tmp_path / 'flow-store.db'}"
    monkeypatch.setenv("TRACKFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("TRACKFLOW_ARTIFACT_ROOT", str(tmp_path / "flow-artifacts"))

    @flow(name="remote-cluster", task_runner=DaskTaskRunner(address=address))
    def remote() -> str:
        assert sum(f.result() for f in work.map(range(12))) == sum(x * x for x in range(12))
        from prefect.runtime import flow_run

        return str(flow_run.id)

    flow_run_id = remote()
    found = record_counts(uri, flow_run_id)
    assert found["runs"] == found["task_run_ids"] == 12
    assert found["running"] == [] and found["runs_without_all_losses"] == []
    assert found["flow_status"] == ["FINISHED"]
    client = tf.Client()
    flow_run = client.get_run_by_prefect_id(flow_run_id)
    children = client.get_child_runs(flow_run.id)
    assert {c.experiment_name for c in children} == {"remote-cluster"}
    assert str(os.getpid()) not in {str(int(c.metrics["pid"])) for c in children}  # they ran on the workers
    assert not (worker_home / ".trackflow").exists()  # nothing went to the workers' own home


def test_a_sqlite_store_of_another_host_is_refused() -> None:
    carried = propagation.Carried(
        tracking_uri="sqlite:////home/ana/.trackflow/trackflow.db", artifact_root="/home/ana/.trackflow/artifacts",
        run_id="0" * 32, experiment="e", host=f"not-{propagation.this_host()}",
    )  # fmt: skip
    with pytest.raises(TrackflowError, match="PostgreSQL") as refused:
        propagation.client_for(carried)
    assert "/home/ana/.trackflow/trackflow.db" in str(refused.value) and "TRACKFLOW_TRACKING_URI" in (refused.value.hint or "")


def test_an_unreachable_store_fails_naming_the_uri_without_its_password() -> None:
    port = free_port()  # nothing listens there
    carried = propagation.Carried(
        tracking_uri=f"postgresql://ana:s3cret@127.0.0.1:{port}/tracking?connect_timeout=2",
        artifact_root="/tmp/unused", run_id="0" * 32, experiment="e", host=propagation.this_host(),
    )  # fmt: skip
    with pytest.raises(StoreError, match=f"127.0.0.1:{port}/tracking") as failed:
        propagation.client_for(carried)
    assert "s3cret" not in str(failed.value) and "ana:***@" in str(failed.value)
