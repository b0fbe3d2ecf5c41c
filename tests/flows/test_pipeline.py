"""The issue's pipeline: one flow run, one nested run per task run, values logged automatically."""

from __future__ import annotations

from pathlib import Path

import trackflow as tf
from flows.pipeline import pipeline
from trackflow.tracking.entities import RunStatus


def test_pipeline_records_flow_and_task_runs(churn_csv: Path) -> None:
    result = pipeline(str(churn_csv), n_estimators=5)
    assert result["accuracy"] > 0.8

    client = tf.Client()
    runs = client.search_runs("churn")
    flows = [r for r in runs if r.kind == "flow"]
    assert len(flows) == 1
    flow_run = flows[0]
    assert flow_run.status is RunStatus.FINISHED and flow_run.flow_run_id and flow_run.end_time
    assert flow_run.params == {"n_estimators": "5", "path": str(churn_csv)}
    assert flow_run.metrics["accuracy"] == result["accuracy"]  # the flow's return value

    tasks = {r.tags["prefect.task"]: r for r in client.get_child_runs(flow_run.id)}
    assert set(tasks) == {"load", "featurize", "train", "evaluate"}
    for run in tasks.values():
        assert run.kind == "task" and run.parent_run_id == flow_run.id and run.status is RunStatus.FINISHED
        assert run.flow_run_id == flow_run.flow_run_id and run.task_run_id and run.experiment_name == "churn"
        assert client.get_run_by_prefect_id(run.task_run_id).id == run.id

    # params: scalars as values, others by type name; model params under model.
    assert tasks["load"].params == {"path": str(churn_csv)}
    assert tasks["featurize"].params == {"scale": "True"}
    assert tasks["train"].params["n_estimators"] == "5"
    assert tasks["train"].params["model.n_estimators"] == "5"
    assert tasks["train"].params["model.class"] == "RandomForestClassifier"
    assert tasks["evaluate"].params == {"model": "RandomForestClassifier"}
    # metrics: a returned mapping of numbers, and sklearn training metrics
    assert tasks["evaluate"].metrics == {"accuracy": result["accuracy"], "rows": 200.0}
    for key in ("accuracy_score", "precision_score", "recall_score", "f1_score", "log_loss", "roc_auc", "score"):
        assert 0 <= tasks["train"].metrics[f"training_{key}"] <= 1.5
    # the note went to the flow's run
    notes = client.get_notes(flow_run.id)
    assert [(n.kind.value, n.text) for n in notes] == [("decision", "Chose RF over GBM")]

    # datasets: the frame load returned is the very dataset featurize received
    load_out = client.get_datasets(tasks["load"].id, role="output")
    feat_in = client.get_datasets(tasks["featurize"].id, role="input")
    assert [d.dataset.fingerprint for d in load_out] == [d.dataset.fingerprint for d in feat_in]
    assert load_out[0].name == "load.output" and load_out[0].dataset.num_rows == 200
    file_in = client.get_datasets(tasks["load"].id, role="input")
    assert file_in[0].name == "path" and file_in[0].dataset.kind == "file"
    featurized = client.get_datasets(tasks["featurize"].id, role="output")[0].dataset.fingerprint
    assert {d.dataset.fingerprint for d in client.get_datasets(tasks["train"].id)} == {featurized}

    # the model package is an artifact of the train run
    paths = {a.path for a in client.list_artifacts(tasks["train"].id)}
    assert "model/trackflow-model.yaml" in paths and "model/model.skops" in paths

    # lineage: dataset -> task run -> dataset -> task run, the task runs grouped in the flow run
    graph = client.lineage(flow_run.id, direction="upstream")
    assert not any(e.relation == "part_of" for e in graph.edges)
    assert graph.groups == {r.ref: flow_run.ref for r in tasks.values()}
    down = client.lineage(f"dataset:{load_out[0].dataset.fingerprint}", direction="downstream", depth=1)
    assert {e.target for e in down.edges} == {tasks["featurize"].ref}


def test_untracked_calls_and_options(churn_csv: Path) -> None:
    from flows.pipeline import load

    # calling the function itself is not a run
    assert len(load.fn(str(churn_csv))) == 200
    assert tf.Client().search_runs() == []
    assert load.tracking_options.autolog is True
    quiet = load.with_options(name="load-quietly", autolog=False, retries=1)
    assert quiet.name == "load-quietly" and quiet.retries == 1 and quiet.tracking_options.autolog is False
    assert type(quiet) is type(load)
    renamed = pipeline.with_options(experiment="churn-v2", run_name="rf-{n_estimators}")
    renamed(str(churn_csv), n_estimators=3)
    flow_run = tf.Client().search_runs("churn-v2", "attributes.kind = 'flow'")[0]
    assert flow_run.name == "rf-3"
    assert len(tf.Client().get_child_runs(flow_run.id)) == 4
