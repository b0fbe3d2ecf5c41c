"""Writes while PostgreSQL is unreachable (a TCP proxy killed by PID): the tracked path
spools them, direct Client calls keep raising, queued values are spooled at exit, and
``trackflow sync`` stores them once the database is back."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import invoke
from tcp_proxy import TcpProxy, proxied_postgres

from trackflow.exceptions import StoreError
from trackflow.tracking.client import Client
from trackflow.tracking.entities import RunStatus
from trackflow.tracking.resilience import tracked_write
from trackflow.tracking.spool import SPOOL_DIR, pending_files


@pytest.fixture
def proxy(tracking_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TcpProxy]:
    """A fresh PostgreSQL schema behind a TCP proxy; TRACKFLOW_TRACKING_URI goes through it."""
    with proxied_postgres(tracking_home, monkeypatch) as forwarder:
        yield forwarder


def test_tracked_writes_are_spooled_and_direct_calls_raise(
    proxy: TcpProxy, tracking_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    monkeypatch.setenv("TRACKFLOW_STORE_RETRY_SECONDS", "0")
    client = Client()
    parent = client.create_run("outage", run_name="parent")
    proxy.kill()
    with pytest.raises(StoreError):
        client.get_run(parent.id)  # a direct Client call keeps raising
    with pytest.raises(StoreError):
        client.link_edges([(f"run:{parent.id}", "dataset:cafe", "output")])
    run = tracked_write("create_run", "outage", run_name="child", parent_run_id=parent.id, params={"lr": 0.1}, tags={"k": "v"})
    client.log_metric(run.id, "loss", 0.5, step=1)  # queued: the run is known to this process
    tracked_write("log_dataset", run.id, pd.DataFrame({"a": [1.0, 2.0]}), "scores", role="output")
    tracked_write("link_edges", [(f"run:{run.id}", f"run:{parent.id}", "cached_from")], run_id=run.id)
    tracked_write("end_run", run.id, RunStatus.FINISHED)
    assert "trackflow sync" in caplog.text and "spooled 1 run(s)" in caplog.text
    assert len(pending_files(tracking_home / SPOOL_DIR)) == 1
    proxy.start()
    code, out, err = invoke(["sync"], capsys)
    assert code == 0, err
    child = client.get_run(run.id)
    assert child.status is RunStatus.FINISHED and child.parent_run_id == parent.id and child.experiment_name == "outage"
    assert child.params == {"lr": "0.1"} and child.tags["k"] == "v"
    assert [(m.step, m.value) for m in client.get_metric_history(run.id, "loss")] == [(1, 0.5)]
    assert [(d.name, d.dataset.num_rows) for d in client.get_datasets(run.id, role="output")] == [("scores", 2)]
    assert [e.relation for e in client.lineage(run.id, direction="downstream").edges if e.relation == "cached_from"] == [
        "cached_from"
    ]


def test_values_queued_at_exit_are_spooled(proxy: TcpProxy, tracking_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = textwrap.dedent(
        """
        import sys
        from trackflow import Client

        client = Client()
        run = client.create_run("exit", run_name="r")
        for step in range(103):
            client.log_metric(run.id, "loss", float(step), step=step)
        print(run.id, flush=True)
        sys.stdin.readline()  # the database goes away meanwhile
        """
    )
    env = {**os.environ, "TRACKFLOW_METRIC_FLUSH_INTERVAL": "600"}  # everything stays queued until exit
    process = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env, text=True)  # fmt: skip
    assert process.stdout is not None and process.stdin is not None
    run_id = process.stdout.readline().strip()
    proxy.kill()
    _, err = process.communicate("\n", timeout=120)
    assert process.returncode == 0 and "spooled 103 metric value(s)" in err, err
    proxy.start()
    assert invoke(["sync"], capsys)[0] == 0
    assert [m.step for m in Client().get_metric_history(run_id, "loss")] == list(range(103))
