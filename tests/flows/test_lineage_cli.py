"""``trackflow lineage REF``: tree, mermaid and json views of what a flow run used and made."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_helpers import invoke

import trackflow as tf
from trackflow import flow, task


@task
def make(n: int) -> np.ndarray:
    return np.arange(n, dtype=float)


@task
def summarize(values: np.ndarray) -> dict[str, float]:
    return {"mean": float(values.mean())}


@flow(name="lineage-cli")
def tiny(n: int = 4) -> dict[str, float]:
    return summarize(make(n))


def test_lineage_command(capsys: pytest.CaptureFixture[str]) -> None:
    tiny(4)
    client = tf.Client()
    (flow_run,) = client.search_runs("lineage-cli", "attributes.kind = 'flow'")
    made = {c.tags["prefect.task"]: c for c in client.get_child_runs(flow_run.id)}
    (output,) = client.get_datasets(made["make"].id, role="output")

    code, out, _ = invoke(["lineage", flow_run.id, "--direction", "upstream"], capsys)
    assert code == 0 and out.splitlines()[0] == f"run {flow_run.name}"
    assert f"--contains--> run {made['make'].name}" in out and f"--contains--> run {made['summarize'].name}" in out
    assert "--output--> dataset" in out

    code, out, _ = invoke(["lineage", output.dataset.ref, "--format", "mermaid", "--depth", "1"], capsys)
    assert code == 0 and out.startswith("graph TD") and "-->|input|" in out and "-->|output|" in out

    code, out, _ = invoke(["lineage", made["make"].id, "-d", "downstream", "-f", "json"], capsys)
    graph = json.loads(out)
    relations = {(e["source"], e["relation"], e["target"]) for e in graph["edges"]}
    assert (made["make"].ref, "output", output.dataset.ref) in relations
    assert not any(relation == "part_of" for _s, relation, _t in relations)  # hierarchy is a group
    assert graph["groups"][made["make"].ref] == flow_run.ref

    code, _, _ = invoke(["lineage", "not-a-ref"], capsys)
    assert code == 1
