"""``score_batch`` and ``deploy_model`` inside a tracked flow; rerun's difference report."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from cli_helpers import invoke

import trackflow as tf
from trackflow.exceptions import InvalidInputError, NotFoundError
from trackflow.registry.client_deployments import ACTIVE, REPLACED

FEATURES = pd.DataFrame({"age": [31, 45, 27, 52, 38, 61], "income": [3.5, 7.25, 2.0, 9.5, 4.0, 8.0]})
LABELS = [0, 1, 0, 1, 0, 1]


def _register(client: Any, name: str) -> Any:
    from sklearn.tree import DecisionTreeClassifier

    model = DecisionTreeClassifier(random_state=0).fit(FEATURES, LABELS)
    return client.registry.register_model(model, name, input_example=FEATURES.head(2))


@pytest.mark.usefixtures("prefect_harness")
def test_score_batch_and_deploy_model_record_lineage_and_deployments(tracking_home: Path, tmp_path: Path) -> None:
    from trackflow.tasks.deploy import deploy_model
    from trackflow.tasks.scoring import score_batch

    client = tf.Client()
    version = _register(client, "churn-clf")
    client.registry.transition("churn-clf", version.version, "production", reason="first")
    output = tmp_path / "scored.csv"

    @tf.flow(name="score-and-deploy")
    def score_and_deploy(data: Any) -> dict[str, Any]:  # see the summary: pd.DataFrame fails here
        scored = score_batch("models:/churn-clf/production", data, output=str(output))
        record = deploy_model("models:/churn-clf/production", target="batch://nightly", name="nightly-scoring")
        return {"scored": scored, "deployment": record.id}

    result = score_and_deploy(FEATURES)
    assert list(result["scored"]["prediction"]) == LABELS
    assert list(pd.read_csv(output)["prediction"]) == LABELS

    graph = client.lineage("models:/churn-clf/1")
    relations = {(e.source.split(":")[0], e.relation, e.target.split(":")[0]) for e in graph.edges}
    assert {("dataset", "scored_by", "model"), ("model", "predicted", "dataset"), ("model", "used_by", "run"),
            ("model", "deployed_as", "deployment")} <= relations
    predictions = [e.target for e in graph.edges if e.relation == "predicted"]
    scorer = [e.target for e in graph.edges if e.relation == "used_by"][0].removeprefix("run:")
    assert [d.dataset.ref for d in client.get_datasets(scorer, role="output")] == predictions
    assert client.get_run(scorer).tags["trackflow.model"] == "churn-clf/1"

    [record] = client.registry.deployments("churn-clf")
    assert (record.id, record.name, record.version, record.target, record.status) == (
        result["deployment"], "nightly-scoring", 1, "batch://nightly", ACTIVE)
    assert record.flow_run_id is not None


def test_record_deployment_replaces_by_name_and_checks_input(tracking_home: Path) -> None:
    client = tf.Client()
    first, second = _register(client, "m"), _register(client, "m")
    one = client.registry.record_deployment("m", first.version, target="http://a:1")
    two = client.registry.record_deployment("m", second.version, target="http://a:1")
    records = {d.id: d for d in client.registry.deployments("m")}
    assert records[one.id].status == REPLACED and records[one.id].until is not None
    assert records[two.id].status == ACTIVE and records[two.id].name == "m at http://a:1"
    with pytest.raises(NotFoundError):
        client.registry.record_deployment("m", 9, target="http://a:1")
    with pytest.raises(InvalidInputError):
        client.registry.record_deployment("m", 1, target=" ")
    with pytest.raises(InvalidInputError, match="JSON"):
        client.registry.record_deployment("m", 1, target="x", details={"o": object()})
    assert len(client.registry.deployments("m")) == 2  # the refused calls wrote nothing


def test_rerun_reports_package_python_and_data_differences(tracking_home: Path, tmp_path: Path) -> None:
    from trackflow.deployments.rerun import data_differences, package_differences

    client = tf.Client()
    data = tmp_path / "d.csv"
    data.write_text("a,b\n1,2\n")
    gone = tmp_path / "gone.csv"
    gone.write_text("a\n1\n")
    with tf.start_run(experiment="e") as active:
        tf.log_dataset(str(data), name="data")
        tf.log_dataset(str(gone), name="gone")
    run = client.get_run(active.id)
    assert data_differences(client, run) == []
    data.write_text("a,b\n1,3\n")
    gone.unlink()
    found = {d.what: d for d in data_differences(client, run)}
    assert found[str(gone.resolve())].now == "missing"
    assert found[str(data.resolve())].before != found[str(data.resolve())].now
    older = dataclasses.replace(run, package_versions={**run.package_versions, "scikit-learn": "0.1"},
                                python_version="2.7.18")
    described = [d.describe() for d in package_differences(older)]
    assert any(line.startswith("packages: scikit-learn: 0.1 -> ") for line in described)
    assert any(line.startswith("packages: python: 2.7.18 -> ") for line in described)
    assert package_differences(run) == []


def test_serve_fails_fast_on_an_unknown_model(tracking_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = invoke(["serve", "models:/nope@production", "--port", "1"], capsys)
    assert code == 1 and "No registered model named 'nope'" in err
