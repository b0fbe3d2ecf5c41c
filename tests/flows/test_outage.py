"""The tracking database (PostgreSQL) is unreachable for 20 s in the middle of a flow.

A TCP proxy subprocess stands between trackflow and PostgreSQL; killing it by PID is the
outage (open connections drop, new ones are refused), starting it again on the same port
ends it. The flow completes every time; with a short retry window the writes go through
the spool and ``trackflow sync`` stores every value exactly once; with the default window
the retries ride through the outage and nothing is spooled.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from cli_helpers import invoke
from tcp_proxy import TcpProxy, proxied_postgres

import trackflow as tf
from trackflow import flow, task
from trackflow.tracking.entities import RunStatus
from trackflow.tracking.spool import SPOOL_DIR, pending_files

OUTAGE_SECONDS = 20.0
STEPS = 4
_flow_started = threading.Event()


@pytest.fixture
def proxy(tracking_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TcpProxy]:
    """A fresh PostgreSQL schema reached through a TCP proxy (TRACKFLOW_TRACKING_URI points at it)."""
    with proxied_postgres(tracking_home, monkeypatch) as forwarder:
        yield forwarder


def _outage(proxy: TcpProxy, *, after: float) -> threading.Thread:
    """Kill the proxy ``after`` seconds into the flow, start it again OUTAGE_SECONDS later."""

    def run() -> None:
        _flow_started.wait(120)
        time.sleep(after)
        proxy.kill()
        time.sleep(OUTAGE_SECONDS)
        proxy.start()

    _flow_started.clear()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _mark_started() -> None:
    """Start the outage clock (a module function: Dask pickles the flow by value, not a lock)."""
    _flow_started.set()


@task
def step(i: int, pause: float) -> pd.DataFrame:
    """Logs STEPS metric values and returns a DataFrame (an output dataset)."""
    for s in range(STEPS):
        tf.log_metric("loss", 1.0 / (s + 1 + i), step=s)
    time.sleep(pause)
    return pd.DataFrame({"i": [i] * 3, "v": [0.5, 1.5, 2.5]})


def _pipeline(name: str, runner: Any = None) -> Any:
    options = {"task_runner": runner} if runner is not None else {}

    @flow(name=name, **options)
    def pipeline(warm_up: int, during: int, pause: float) -> int:
        """``warm_up`` tasks (every worker opens the store), then ``during`` tasks across the outage."""
        rows = sum(len(f.result()) for f in [step.submit(i, 1.0) for i in range(warm_up)])
        _mark_started()
        for batch in range(0, during, 2):
            futures = [step.submit(warm_up + i, pause) for i in range(batch, min(batch + 2, during))]
            rows += sum(len(f.result()) for f in futures)
        return rows

    return pipeline


def _check_exactly_once(name: str, tasks: int) -> None:
    """One FINISHED run per Prefect task run, each metric step once, one output dataset each."""
    client = tf.Client()
    flows = client.search_runs(name, "attributes.kind = 'flow'")
    assert len(flows) == 1 and flows[0].status is RunStatus.FINISHED
    children = client.get_child_runs(flows[0].id)
    assert len(children) == tasks
    assert len({c.task_run_id for c in children}) == tasks  # one run per Prefect task run
    assert [c for c in children if c.status is not RunStatus.FINISHED] == []
    for child in children:
        history = client.get_metric_history(child.id, "loss")
        assert sorted(m.step for m in history) == list(range(STEPS)), child.id
        outputs = client.get_datasets(child.id, role="output")
        assert [(d.name, d.dataset.num_rows) for d in outputs] == [("step.output", 3)]


def _sync(capsys: pytest.CaptureFixture[str]) -> str:
    code, out, err = invoke(["sync"], capsys)
    assert code == 0, (out, err)
    return out


def test_thread_runner_spools_and_sync_stores_everything_once(
    proxy: TcpProxy, tracking_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TRACKFLOW_STORE_RETRY_SECONDS", "3")
    outage = _outage(proxy, after=1.0)
    pipeline = _pipeline("outage-threads")
    assert pipeline(warm_up=2, during=8, pause=1.0) == 30
    spooled = pending_files(tracking_home / SPOOL_DIR)
    assert spooled, "the flow ended during the outage: its values must be in the spool"
    outage.join()
    _sync(capsys)
    assert pending_files(tracking_home / SPOOL_DIR) == []
    _check_exactly_once("outage-threads", 10)
    assert "Nothing to sync" in _sync(capsys)  # replaying is done; a second sync finds nothing


def test_dask_process_workers_spool_and_sync_stores_everything_once(
    proxy: TcpProxy, tracking_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("prefect_dask")
    from prefect_dask import DaskTaskRunner

    monkeypatch.setenv("TRACKFLOW_STORE_RETRY_SECONDS", "3")
    runner = DaskTaskRunner(cluster_kwargs={"n_workers": 2, "processes": True, "threads_per_worker": 1})
    outage = _outage(proxy, after=0.5)
    pipeline = _pipeline("outage-dask", runner)
    assert pipeline(warm_up=4, during=6, pause=1.0) == 30
    spooled = pending_files(tracking_home / SPOOL_DIR)
    assert [p for p in spooled if f"-{os.getpid()}-" not in p.name], "the workers' writes must be in their spool files"
    outage.join()
    out = _sync(capsys)
    assert "run(s)" in out and "file removed" in out  # the workers' files: only a sync replays them
    assert pending_files(tracking_home / SPOOL_DIR) == []
    _check_exactly_once("outage-dask", 10)


def test_default_retry_window_rides_through_the_outage(proxy: TcpProxy, tracking_home: Path) -> None:
    outage = _outage(proxy, after=1.0)
    pipeline = _pipeline("outage-ride")
    assert pipeline(warm_up=2, during=6, pause=1.0) == 24
    outage.join()
    assert not (tracking_home / SPOOL_DIR).exists() or pending_files(tracking_home / SPOOL_DIR) == []
    _check_exactly_once("outage-ride", 8)
