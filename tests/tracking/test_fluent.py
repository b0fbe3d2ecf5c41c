"""The fluent API: start_run blocks, statuses, nesting and the issue's example."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import trackflow as tf
from trackflow.exceptions import TrackflowError
from trackflow.tracking.entities import RunStatus


def test_issue_example_end_to_end(tracking_home: Path, tmp_path: Path) -> None:
    train_df = pd.DataFrame({"age": [31, 45, 27, 52], "churned": [0, 1, 0, 1]})
    report = tmp_path / "report.html"
    report.write_text("<h1>report</h1>")
    with tf.start_run(experiment="churn", run_name="baseline") as run:
        tf.log_params({"n_estimators": 100, "max_depth": 5})
        for epoch in range(10):
            tf.log_metric("loss", 1 / (epoch + 1), step=epoch)
        tf.set_tags({"team": "growth"})
        tf.note("Dropped rows with null age (3% of data)", kind="assumption")
        tf.log_dataset(train_df, name="train", role="input")
        tf.log_artifact(str(report))
        tf.log_dict({"classes": ["a", "b"]}, "meta/classes.json")

    client = tf.Client()
    runs = client.search_runs(
        "churn",
        filter="metrics.loss < 0.2 and (params.max_depth = '5' or tags.team = 'growth')",
        order_by=["metrics.loss ASC"],
        max_results=50,
    )
    assert [r.id for r in runs] == [run.id]
    stored = runs[0]
    assert stored.status is RunStatus.FINISHED and stored.name == "baseline"
    assert stored.params == {"max_depth": "5", "n_estimators": "100"}
    assert stored.metrics == {"loss": 0.1}
    frame = client.search_runs("churn", output="pandas")
    assert frame.loc[0, "run_id"] == run.id
    assert [m.value for m in client.get_metric_history(run.id, "loss")] == [1 / (e + 1) for e in range(10)]
    out = client.download_artifacts(run.id, "meta", tmp_path / "out")
    assert out == tmp_path / "out" / "meta"
    assert json.loads((out / "classes.json").read_text()) == {"classes": ["a", "b"]}
    assert {a.path for a in client.list_artifacts(run.id)} == {"report.html", "meta/classes.json"}
    assert [d.name for d in client.get_datasets(run.id)] == ["train"]
    assert client.get_notes(run.id)[0].kind.value == "assumption"


def test_exception_ends_failed_with_message(tracking_home: Path) -> None:
    with pytest.raises(ValueError):
        with tf.start_run(experiment="e") as run:
            tf.log_metric("m", 1.0)
            raise ValueError("bad data")
    stored = tf.Client().get_run(run.id)
    assert stored.status is RunStatus.FAILED and stored.error == "ValueError: bad data"
    assert stored.metrics == {"m": 1.0}
    assert tf.active_run_id() is None


def test_keyboard_interrupt_ends_killed(tracking_home: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        with tf.start_run(experiment="e") as run:
            raise KeyboardInterrupt
    assert tf.Client().get_run(run.id).status is RunStatus.KILLED


def test_nested_runs_and_active_run(tracking_home: Path) -> None:
    with tf.start_run(experiment="e") as outer:
        assert tf.active_run_id() == outer.id
        with tf.start_run(run_name="inner") as inner:
            assert tf.active_run_id() == inner.id
            tf.log_param("depth", 2)
        assert tf.active_run_id() == outer.id
    client = tf.Client()
    child = client.get_run(inner.id)
    assert child.parent_run_id == outer.id and child.experiment_name == "e"
    assert child.params == {"depth": "2"}


def test_logging_without_active_run_is_a_clear_error(tracking_home: Path) -> None:
    with pytest.raises(TrackflowError, match="No active run"):
        tf.log_metric("m", 1.0)


def test_end_run_without_with_block(tracking_home: Path) -> None:
    run = tf.start_run(experiment="e")
    tf.log_metric("m", 2.0)
    ended = tf.end_run()
    assert ended is not None and ended.status is RunStatus.FINISHED and ended.metrics == {"m": 2.0}
    assert tf.active_run_id() is None and run.id == ended.id
