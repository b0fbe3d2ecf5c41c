"""Orphaned runs: `trackflow runs reconcile` and a flow's reconciliation of its own task runs.

Orphans are made for real: a child process starts a run and is killed with SIGKILL (its pid
recorded at start), or a tracked flow runs on the session's Prefect API and the end of a
run is then "lost" by putting it back to RUNNING through ``Client.update_run``.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import pytest
from cli_helpers import invoke

import trackflow as tf
from trackflow import flow, task
from trackflow.exceptions import InvalidInputError, NotFoundError
from trackflow.tracked.reconcile import Reconciled, parse_age, reconcile_flow_children, reconcile_runs
from trackflow.tracking.entities import Run, RunStatus

ORPHAN = """
import sys, time
from trackflow.tracking.client import Client
run = Client().create_run(sys.argv[1], run_name=sys.argv[2])
print(run.id, flush=True)
time.sleep(600)
"""


def start_orphan(experiment: str, name: str) -> tuple[str, subprocess.Popen[str]]:
    """A child process that has started a run (RUNNING, with its pid) and now just sleeps."""
    child = subprocess.Popen([sys.executable, "-c", ORPHAN, experiment, name], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    run_id = child.stdout.readline().strip()
    run = tf.Client().get_run(run_id)
    assert run.status is RunStatus.RUNNING and run.pid == child.pid and run.host == socket.gethostname()
    return run_id, child


def orphan(experiment: str, name: str) -> tuple[str, int]:
    """A run started by a child process that is then killed with SIGKILL: (run id, the child's pid)."""
    run_id, child = start_orphan(experiment, name)
    child.kill()  # SIGKILL: nothing of the child's own clean-up runs
    child.wait()
    return run_id, child.pid


def reconcile(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    return invoke(["runs", "reconcile", *args], capsys)


def status(run_id: str) -> RunStatus:
    return tf.Client().get_run(run_id).status


def test_a_killed_process_run_ends_crashed_and_live_ones_stay(store_uri: str, capsys: pytest.CaptureFixture[str]) -> None:
    dead, pid = orphan("orphans", "dead")
    live = tf.Client().create_run("orphans", run_name="live")  # this process: alive

    code, out, err = reconcile(capsys, "--older-than", "0s")
    assert code == 0, err
    assert dead in out and live.id not in out
    assert "Ended 1 of 2 RUNNING run(s) started more than 0s ago (0 from Prefect's state, 1 with their process gone); 1 left running." in out
    run = tf.Client().get_run(dead)
    assert run.status is RunStatus.CRASHED and run.end_time is not None
    assert run.error == f"Reconciled: process {pid} on host {socket.gethostname()} is gone."
    assert status(live.id) is RunStatus.RUNNING

    code, out, _ = reconcile(capsys, "--older-than", "0s")  # nothing left to do
    assert code == 0 and "Ended 0 of 1 RUNNING run(s)" in out and status(dead) is RunStatus.CRASHED


def test_a_killed_process_not_yet_reaped_is_gone(tracking_home: object) -> None:
    run_id, child = start_orphan("orphans", "zombie")
    try:
        child.kill()
        deadline = time.monotonic() + 60
        while Path(f"/proc/{child.pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z":
            assert time.monotonic() < deadline, "the killed child never became a zombie"
            time.sleep(0.05)
        (record,) = reconcile_runs(tf.Client(), older_than="0s")  # its pid still exists, as a zombie
        assert (record.run_id, record.status) == (run_id, RunStatus.CRASHED) and status(run_id) is RunStatus.CRASHED
    finally:
        child.kill()
        child.wait()


def test_dry_run_changes_nothing(tracking_home: object, capsys: pytest.CaptureFixture[str]) -> None:
    dead, _ = orphan("orphans", "dead")
    before = tf.Client().get_run(dead)

    code, out, err = reconcile(capsys, "--older-than", "0s", "--dry-run")
    assert code == 0, err
    assert dead in out and "CRASHED" in out
    assert "Would end 1 of 1 RUNNING run(s)" in out and "dry run: nothing changed." in out
    assert tf.Client().get_run(dead) == before  # status, end time, error: untouched

    result = reconcile_runs(tf.Client(), older_than="0s", dry_run=True)
    assert [(r.run_id, r.status, r.basis) for r in result] == [(dead, RunStatus.CRASHED, "process")]
    assert result.dry_run and tf.Client().get_run(dead) == before


def test_young_runs_are_left_alone(tracking_home: object, capsys: pytest.CaptureFixture[str]) -> None:
    dead, _ = orphan("orphans", "dead")
    code, out, err = reconcile(capsys, "--older-than", "1h")
    assert code == 0, err
    assert dead not in out and "Ended 0 of 0 RUNNING run(s) started more than 1h ago" in out
    assert status(dead) is RunStatus.RUNNING
    code, out, _ = reconcile(capsys)  # default: 10 minutes
    assert code == 0 and "started more than 10m ago" in out and status(dead) is RunStatus.RUNNING


@pytest.mark.parametrize("age", ["5x", "10", "-1m", "1.5h", "m", ""])
def test_a_bad_age_is_a_usage_error(age: str, tracking_home: object, capsys: pytest.CaptureFixture[str]) -> None:
    run = tf.Client().create_run("orphans")
    code, out, err = reconcile(capsys, "--older-than", age)
    assert code == 2 and out == ""
    assert "Invalid value for '--older-than'" in err and "such as 30s, 10m, 2h or 1d" in err
    assert tf.Client().get_run(run.id) == run
    with pytest.raises(InvalidInputError, match="expected a whole number and a unit"):
        parse_age(age)


def test_ages() -> None:
    assert [parse_age(a).total_seconds() for a in ("30s", "10m", "2h", "1d", " 3H ", "0s")] == [30, 600, 7200, 86400, 10800, 0]


def test_python_api_and_experiment_filter(tracking_home: object, capsys: pytest.CaptureFixture[str]) -> None:
    mine, _ = orphan("mine", "a")
    other, pid = orphan("other", "b")
    client = tf.Client()
    with pytest.raises(NotFoundError, match="No experiment named 'nope'"):
        reconcile_runs(client, older_than="0s", experiment="nope")
    code, _, err = reconcile(capsys, "--experiment", "nope")
    assert code == 1 and "No experiment named 'nope'" in err

    (record,) = reconcile_runs(client, older_than="0s", experiment="mine")
    assert isinstance(record, Reconciled) and record.run_id == mine and record.experiment == "mine"
    assert (record.status, record.basis, record.kind) == (RunStatus.CRASHED, "process", "manual")
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.status = RunStatus.FINISHED  # type: ignore[misc]
    assert status(mine) is RunStatus.CRASHED and status(other) is RunStatus.RUNNING

    code, out, _ = reconcile(capsys, "--older-than", "0s", "--format", "json")
    assert code == 0
    rows = json.loads(out)  # the summary went to stderr: stdout stays JSON
    assert [(r["run_id"], r["status"], r["experiment"]) for r in rows] == [(other, "CRASHED", "other")]
    assert rows[0]["reason"] == f"Reconciled: process {pid} on host {socket.gethostname()} is gone."


# ---- Prefect's state ------------------------------------------------------------------


@task
def succeeds() -> str | None:
    tf.log_metric("score", 0.5)
    return tf.active_run_id()


@task
def explodes() -> None:
    raise ValueError("boom")


def wait_until_final(task_run_ids: Iterable[str], flow_run_ids: Iterable[str]) -> None:
    """Prefect records run states shortly after they happen: wait until its API shows them final."""
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + 60
    with get_client(sync_client=True) as prefect:
        while True:
            states = [prefect.read_task_run(i).state for i in task_run_ids] + [prefect.read_flow_run(i).state for i in flow_run_ids]
            if all(s is not None and s.is_final() for s in states):
                return
            assert time.monotonic() < deadline, f"Prefect never showed these runs final: {states}"
            time.sleep(0.2)


def lose_ends(runs: Iterable[Run]) -> None:
    """Put ended runs back to RUNNING: as if the process that ended them lost the write."""
    client = tf.Client()
    for run in runs:
        client.update_run(run.id, status=RunStatus.RUNNING, end_time=None, error=None)


def test_runs_whose_prefect_runs_are_final_mirror_their_state(capsys: pytest.CaptureFixture[str]) -> None:
    @flow(name="lost-ends")
    def lost_ends() -> None:
        succeeds()
        with pytest.raises(ValueError, match="boom"):
            explodes()

    lost_ends()
    client = tf.Client()
    flow_run = client.search_runs("lost-ends", "attributes.kind = 'flow'")[0]
    children = {c.tags["prefect.task"]: c for c in client.get_child_runs(flow_run.id)}
    assert {name: c.status for name, c in children.items()} == {"succeeds": RunStatus.FINISHED, "explodes": RunStatus.FAILED}
    lose_ends([flow_run, *children.values()])
    wait_until_final([c.task_run_id for c in children.values() if c.task_run_id], [flow_run.flow_run_id or ""])
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(restore_defaults={PREFECT_API_URL}):  # no API: Prefect's temporary server is not started
        code, out, err = reconcile(capsys, "--older-than", "0s")
    assert code == 0, err
    assert "PREFECT_API_URL is not set" in out and "Ended 0 of 3" in out
    assert all(status(r.id) is RunStatus.RUNNING for r in [flow_run, *children.values()])

    dead, _ = orphan("lost-ends", "dead")
    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}):  # nothing listens there
        code, out, err = reconcile(capsys, "--older-than", "0s")
    assert code == 0, err
    assert "Prefect's API could not be asked" in out and "judged by their process only" in out
    assert "Ended 1 of 4" in out and status(dead) is RunStatus.CRASHED  # unknown to Prefect: left alone
    assert all(status(r.id) is RunStatus.RUNNING for r in [flow_run, *children.values()])

    code, out, err = reconcile(capsys, "--older-than", "0s")
    assert code == 0, err
    assert "Ended 3 of 3 RUNNING run(s) started more than 0s ago (3 from Prefect's state, 0 with their process gone)" in out
    ended = {r.id: r for r in client.get_runs([flow_run.id, *(c.id for c in children.values())])}
    expected = {flow_run.id: ("FINISHED", "flow", "COMPLETED"), children["succeeds"].id: ("FINISHED", "task", "COMPLETED"),
                children["explodes"].id: ("FAILED", "task", "FAILED")}  # fmt: skip
    for run_id, (final, kind, prefect_type) in expected.items():
        run = ended[run_id]
        assert run.status.value == final and run.end_time is not None
        assert run.error is not None and run.error.startswith(f"Reconciled from Prefect's state: Prefect {kind} run ")
        assert f" is {prefect_type} (" in run.error
    assert children["succeeds"].metrics == ended[children["succeeds"].id].metrics == {"score": 0.5}


def test_a_flow_reconciles_its_own_task_runs() -> None:
    from prefect.context import FlowRunContext

    from trackflow.tracking.fluent import get_client

    @flow(name="settles")
    def settles() -> tuple[str | None, list[Reconciled]]:
        run_id = succeeds()
        assert run_id is not None
        client = get_client()  # the flow's own Client: its queued task-run ends are flushed first
        client.update_run(run_id, status=RunStatus.RUNNING, end_time=None)  # its end was lost
        ctx = FlowRunContext.get()
        assert ctx is not None and ctx.flow_run is not None
        return run_id, list(reconcile_flow_children(client, ctx.flow_run.id))

    run_id, result = settles()
    assert [(r.run_id, r.status, r.basis) for r in result] == [(run_id, RunStatus.FINISHED, "prefect")]
    run = tf.Client().get_run(run_id or "")
    assert run.status is RunStatus.FINISHED and "Reconciled from Prefect's state" in (run.error or "")
    with pytest.raises(InvalidInputError, match="UUID"):
        reconcile_flow_children(tf.Client(), "not-a-flow-run")
