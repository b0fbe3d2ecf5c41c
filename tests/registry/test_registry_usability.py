"""Registry usability: several models per run, signatures without an input example,
and a promotion policy that never passes a candidate lacking its metric."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

import trackflow as tf
from trackflow.exceptions import InvalidInputError
from trackflow.registry.entities import Stage
from trackflow.tracking.client import Client

LABELS = [0, 1, 0, 1, 0, 1]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return pd.DataFrame({"age": [25, 40, 33, 51, 29, 60], "spend": [1.0, 9.5, 3.2, 7.7, 2.2, 8.8],
                         "visits": [1, 8, 3, 9, 2, 7]})


def test_several_models_register_from_one_run(client: Client, frame: pd.DataFrame) -> None:
    linear = LogisticRegression().fit(frame, LABELS)
    tree = DecisionTreeClassifier().fit(frame, LABELS)
    run = client.create_run("churn")
    first = client.registry.register_model(linear, "churn-linear", run_id=run.id)
    second = client.registry.register_model(tree, "churn-tree", run_id=run.id)
    third = client.registry.register_model(tree, "churn-tree", run_id=run.id, artifact_path="trees/best")
    assert [first.source, second.source, third.source] == [
        f"runs:/{run.id}/model", f"runs:/{run.id}/model-2", f"runs:/{run.id}/trees/best"]
    loaded = client.registry.load_model("models:/churn-tree/1")
    assert loaded.manifest.model_class.endswith("DecisionTreeClassifier")
    assert list(loaded.predict(frame)) == list(tree.predict(frame))


def test_signature_from_feature_names_and_the_training_data_dtypes(client: Client, frame: pd.DataFrame) -> None:
    model = LogisticRegression().fit(frame, LABELS)
    run = client.create_run("churn")
    client.log_dataset(run.id, frame, "train")  # what trackflow saw of the training data
    version = client.registry.register_model(model, "churn-clf", run_id=run.id)  # no input_example
    loaded = client.registry.load_model(f"models:/churn-clf/{version.version}")
    assert loaded.signature is not None
    assert loaded.signature.to_dict()["inputs"] == [
        {"name": "age", "dtype": "int64"}, {"name": "spend", "dtype": "float64"}, {"name": "visits", "dtype": "int64"}]
    with pytest.raises(InvalidInputError, match="missing column.*'visits'"):
        loaded.predict(frame.drop(columns=["visits"]))
    with pytest.raises(InvalidInputError, match="column 'age'"):
        loaded.predict(frame.assign(age=["young"] * len(frame)))
    assert list(loaded.predict(frame)) == list(model.predict(frame))


def test_signature_from_feature_names_alone_names_a_missing_column(client: Client, frame: pd.DataFrame) -> None:
    model = LogisticRegression().fit(frame, LABELS)
    version = client.registry.register_model(model, "no-data")  # no run data seen: columns, dtypes unchecked
    loaded = client.registry.load_model(f"models:/no-data/{version.version}")
    assert loaded.signature is not None and loaded.signature.column_names == ["age", "spend", "visits"]
    with pytest.raises(InvalidInputError, match="'spend'"):
        loaded.predict(frame.drop(columns=["spend"]))


def test_signature_from_n_features_for_a_model_fit_on_an_array(client: Client, frame: pd.DataFrame) -> None:
    values = frame.to_numpy(dtype=float)
    model = LogisticRegression().fit(values, LABELS)
    version = client.registry.register_model(model, "array-clf")
    loaded = client.registry.load_model(f"models:/array-clf/{version.version}")
    assert loaded.signature is not None and loaded.signature.column_names == ["0", "1", "2"]
    with pytest.raises(InvalidInputError, match="3"):
        loaded.predict(values[:, :2])
    assert list(loaded.predict(values)) == list(model.predict(values))
    assert list(loaded.predict(frame)) == list(model.predict(values))  # a table by position, as scikit-learn


def test_promote_if_fails_a_candidate_without_the_metric(client: Client, frame: pd.DataFrame) -> None:
    from trackflow.tasks.register import register_and_stage

    model = LogisticRegression().fit(frame, LABELS)
    with tf.start_run(experiment="churn"):
        tf.log_metric("accuracy", 0.9)  # but no roc_auc
        version = register_and_stage(model, "guarded", client=client, publish_card=False,
                                     promote_if="metrics.roc_auc >= production.metrics.roc_auc")
    assert version.stage is Stage.DEVELOPMENT  # nothing in production, yet no metric: not promoted
    record = client.registry.history("guarded", version=1)[-1]
    assert "has no value for metric 'roc_auc'" in (record.reason or "")
    decision = record.details["promotion"]
    assert decision["candidate_value"] is None and decision["passed"] is False
    assert not client.registry.list_versions("guarded", stage="production")


def test_promote_if_still_passes_a_candidate_with_the_metric_and_nothing_to_beat(
    client: Client, frame: pd.DataFrame
) -> None:
    from trackflow.tasks.register import register_and_stage

    model = LogisticRegression().fit(frame, LABELS)
    with tf.start_run(experiment="churn"):
        tf.log_metric("roc_auc", float(np.float64(0.71)))
        version = register_and_stage(model, "first", client=client, publish_card=False,
                                     promote_if="metrics.roc_auc >= production.metrics.roc_auc")
    assert version.stage is Stage.PRODUCTION


def test_at_stage_names_the_stage_when_no_alias_has_that_name(client: Client, frame: pd.DataFrame) -> None:
    model = LogisticRegression().fit(frame, LABELS)
    client.registry.register_model(model, "staged")
    client.registry.register_model(model, "staged")
    client.registry.transition("staged", 1, "production")
    assert client.registry.resolve("models:/staged@production").version == 1  # as trackflow serve follows it
    client.registry.set_alias("staged", "production", 2)  # an alias of that name wins
    assert client.registry.resolve("models:/staged@production").version == 2
    assert list(tf.load_model("models:/staged@production").predict(frame)) == list(model.predict(frame))
