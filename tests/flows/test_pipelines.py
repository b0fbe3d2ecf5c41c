"""The reference training pipeline: tracked end to end, promotion by policy, input checked first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import trackflow as tf
from trackflow.exceptions import InvalidInputError, NotFoundError
from trackflow.flows.pipelines import PipelineResult, check_training_parameters, training_pipeline

POLICY = "metrics.roc_auc >= production.metrics.roc_auc"
WEAK = {"estimator": "sklearn.dummy.DummyClassifier", "estimator_params": {"strategy": "prior"}}
STRONG = {"estimator": "sklearn.tree.DecisionTreeClassifier", "estimator_params": {"max_depth": 3}}


def _train(**options: Any) -> PipelineResult:
    result = training_pipeline(data="sklearn:breast_cancer", model_name="bc", promote_if=POLICY, **options)
    assert isinstance(result, PipelineResult)
    return result


@pytest.mark.usefixtures("prefect_harness")
def test_retraining_promotes_the_better_model_and_keeps_the_worse_in_staging(tracking_home: Path) -> None:
    client = tf.Client()
    first = _train(**WEAK)  # nothing in production yet: the policy passes
    better = _train(**STRONG)
    worse = _train(**WEAK)
    assert (first.version, first.stage) == (1, "production")
    assert (better.version, better.stage) == (2, "production")
    assert (worse.version, worse.stage) == (3, "staging")
    assert better.metrics["roc_auc"] > worse.metrics["roc_auc"] == pytest.approx(0.5)
    stages = {v.version: v.stage.value for v in client.registry.list_versions("bc")}
    assert stages == {1: "archived", 2: "production", 3: "staging"}
    reasons = {(t.version, t.to_stage.value): t.reason or "" for t in client.registry.history("bc")}
    assert "no production version exists" in reasons[(1, "production")]
    assert reasons[(1, "archived")] == "replaced in production by version 2"
    assert "promote_if passed" in reasons[(2, "production")] and "production v1" in reasons[(2, "production")]
    assert "promote_if failed" in reasons[(3, "staging")] and "is not >=" in reasons[(3, "staging")]

    run = client.get_run(better.run_id or "")
    assert run.kind == "flow" and run.status.value == "FINISHED"
    assert run.metrics["roc_auc"] == pytest.approx(better.metrics["roc_auc"])
    assert run.tags["trackflow.flow_entrypoint"] == "trackflow.flows:training_pipeline"
    children = {c.tags.get("prefect.task") for c in client.get_child_runs(run.id)}
    assert {"load-dataset", "split-dataset", "train-model", "evaluate-model"} <= children
    graph = client.lineage(run.id)
    assert "model:bc/2" in graph.nodes
    names = {n.attributes["name"] for n in graph.nodes.values() if n.kind == "dataset"}
    assert {"split-dataset.output.train", "split-dataset.output.test"} <= names  # named by their producer
    assert any("bc version 2" in n.text for n in client.get_notes(run.id, kind="decision"))


@pytest.mark.usefixtures("prefect_harness")
def test_a_csv_file_is_fingerprinted_as_the_runs_input(tracking_home: Path, tmp_path: Path) -> None:
    from sklearn.datasets import load_iris

    data = tmp_path / "iris.csv"
    load_iris(as_frame=True).frame.rename(columns={"target": "species"}).to_csv(data, index=False)
    result = training_pipeline(data=str(data), target="species", estimator="sklearn.tree.DecisionTreeClassifier",
                               metrics=["accuracy", "f1"], test_size=0.3)
    assert result.model_name is None and set(result.metrics) == {"accuracy", "f1"}
    client = tf.Client()
    files = [d.dataset for d in client.get_datasets(result.run_id or "", role="input") if d.dataset.kind == "file"]
    assert [f.source for f in files] == [data.resolve().as_uri()]


def test_parameters_are_checked_before_anything_runs(tracking_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ok = check_training_parameters(model_name="bc", promote_if=POLICY)
    assert ok["target"] == "target" and ok["metrics"] == ["accuracy", "f1", "roc_auc"] and ok["classifier"]
    reg = check_training_parameters(data="sklearn:diabetes", estimator="sklearn.linear_model.Ridge")
    assert reg["metrics"] == ["r2", "rmse", "mae"] and not reg["classifier"]
    bad: list[tuple[dict[str, Any], str]] = [
        ({"estimator": "os.system"}, "not in an allowed module"),
        ({"estimator": "sklearn.ensemble.NoSuchModel"}, "no estimator class"),
        ({"estimator_params": {"n_trees": 3}}, "no parameter(s) ['n_trees']"),
        ({"metrics": ["rmse"]}, "do not apply to a classifier"),
        ({"test_size": 1.5}, "test_size"),
        ({"data": "sklearn:mnist"}, "Unknown scikit-learn dataset"),
        ({"data": "table.xlsx", "target": "y"}, "Cannot tell the format"),
        ({"promote_if": POLICY}, "promote_if needs model_name"),
        ({"model_name": "bc", "promote_if": "metrics.r2 >= production.metrics.r2"}, "does not compute"),
        ({"model_name": "bc", "promote_if": POLICY, "stage": "production"}, "development or staging"),
    ]
    for options, fragment in bad:
        with pytest.raises(InvalidInputError) as caught:
            check_training_parameters(**options)
        assert fragment in str(caught.value), options
    with pytest.raises(NotFoundError, match="No data file"):
        check_training_parameters(data="/nonexistent/data.csv", target="y")
    monkeypatch.setenv("TRACKFLOW_ALLOWED_ESTIMATOR_MODULES", "collections")
    with pytest.raises(InvalidInputError, match="needs fit"):
        check_training_parameters(estimator="collections.OrderedDict")
    assert tf.Client().search_runs() == []  # nothing was written
