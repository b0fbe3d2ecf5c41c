"""What an MLflow user types works: keyword aliases, nesting, entities at the top level, deprecations."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import trackflow as tf
from trackflow.exceptions import InvalidInputError, NotFoundError
from trackflow.tracking.client import Client


def _two_experiments(client: Client) -> tuple[str, str]:
    churn = client.create_run("churn", run_name="a")
    client.log_metric(churn.id, "auc", 0.9)
    client.end_run(churn.id)
    fraud = client.create_run("fraud", run_name="b")
    client.log_metric(fraud.id, "auc", 0.7)
    client.end_run(fraud.id)
    return churn.id, fraud.id


def test_search_runs_takes_mlflows_keywords(client: Client) -> None:
    churn_run, fraud_run = _two_experiments(client)
    churn_id = client.get_experiment_by_name("churn").id

    by_id = client.search_runs(experiment_ids=[churn_id], filter_string="metrics.auc > 0.5")
    assert [r.id for r in by_id] == [churn_run]
    by_name = client.search_runs(experiment_names=["fraud"], order_by=["metrics.auc DESC"])
    assert [r.id for r in by_name] == [fraud_run]
    frame = client.search_runs(filter_string="metrics.auc < 0.8", output_format="pandas")
    assert list(frame["run_id"]) == [fraud_run]


@pytest.mark.parametrize(
    "options",
    [
        {"filter": "metrics.auc > 0", "filter_string": "metrics.auc > 0"},
        {"experiments": ["churn"], "experiment_names": ["churn"]},
        {"experiments": ["churn"], "experiment_ids": ["x"]},
        {"output": "pandas", "output_format": "pandas"},
    ],
)
def test_both_spellings_of_one_option_are_refused(client: Client, options: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError, match="not both"):
        client.search_runs(**options)  # type: ignore[arg-type]


def test_an_unknown_experiment_id_is_not_found(client: Client) -> None:
    _two_experiments(client)
    with pytest.raises(NotFoundError, match="No experiment with id 'nope'"):
        client.search_runs(experiment_ids=["nope"])


def test_start_run_nested_keyword(tracking_home: Path) -> None:
    with tf.start_run(experiment="nesting") as outer:
        with tf.start_run(nested=True) as inner:
            pass
        with tf.start_run(experiment="nesting", nested=False) as alone:
            pass
    client = tf.Client()
    assert client.get_run(inner.id).parent_run_id == outer.id
    assert client.get_run(alone.id).parent_run_id is None
    with pytest.raises(InvalidInputError, match="nested"):
        tf.start_run(nested="yes")  # type: ignore[arg-type]


def test_entities_are_exported_and_get_client_is_deprecated(tracking_home: Path) -> None:
    from trackflow.registry.entities import ModelVersion
    from trackflow.tracking.entities import Run

    assert tf.Run is Run and tf.ModelVersion is ModelVersion and tf.Stage("production") is tf.Stage.PRODUCTION
    assert {"Run", "Metric", "Dataset", "LineageGraph", "ModelVersion", "RegisteredModel"} <= set(tf.__all__)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tf.get_client()
    assert any(issubclass(w.category, DeprecationWarning) and "trackflow.Client()" in str(w.message) for w in caught)
