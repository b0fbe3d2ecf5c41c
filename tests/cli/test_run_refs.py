"""Runs of real tracked Prefect flows found by the ids a Prefect user has: flow-run and task-run UUIDs."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import invoke

import trackflow as tf
from trackflow.tracking.client import Client
from trackflow.tracking.run_refs import resolve_run_ref


@tf.task
def count_rows(rows: int) -> int:
    tf.log_metric("rows", rows)
    return rows


@tf.flow(experiment="refs")
def refs_pipeline(rows: int = 3) -> int:
    return count_rows(rows)


def test_prefect_flow_run_and_task_run_ids(
    prefect_harness: None, tracking_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    refs_pipeline()
    client = Client()
    (flow_run,) = [r for r in client.search_runs(["refs"]) if r.kind == "flow"]
    (task_run,) = client.get_child_runs(flow_run.id)
    assert flow_run.flow_run_id and task_run.task_run_id and "-" in flow_run.flow_run_id
    assert resolve_run_ref(client, flow_run.flow_run_id).id == flow_run.id
    assert resolve_run_ref(client, flow_run.flow_run_id.replace("-", "")).id == flow_run.id
    assert resolve_run_ref(client, task_run.task_run_id).id == task_run.id
    assert resolve_run_ref(client, flow_run.name).id == flow_run.id  # Prefect's flow-run name
    code, out, _ = invoke(["runs", "show", flow_run.flow_run_id], capsys)
    assert code == 0 and f"Run {flow_run.id}" in out and "task runs:" in out and task_run.id in out
    code, out, _ = invoke(["runs", "notes", task_run.task_run_id.replace("-", "")], capsys)
    assert code == 0
    code, out, _ = invoke(["runs", "list", "--experiment", "refs"], capsys)
    assert code == 0 and flow_run.id in out and task_run.id not in out
