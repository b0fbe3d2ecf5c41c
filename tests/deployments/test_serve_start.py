"""``trackflow serve`` starts in the right order (model, port, "Serving" line, record), accepts
CSV bodies, and ``trackflow models predict`` scores a file with lineage.

A real ``trackflow serve`` subprocess holds the port; the failed starts run in process."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from cli_helpers import invoke
from process_helpers import free_port, server_process
from sklearn.linear_model import LogisticRegression

import trackflow as tf
from trackflow.registry.client_deployments import ACTIVE

FEATURES = pd.DataFrame({"age": [31, 45, 27, 52], "income": [3.5, 7.25, 2.0, 9.5]})
LABELS = [0, 1, 0, 1]


@pytest.fixture
def registered(tracking_home: Path) -> tf.Client:
    """``churn-clf`` version 1 in production, fit on FEATURES (signature from its feature names)."""
    client = tf.Client()
    model = LogisticRegression().fit(FEATURES, LABELS)
    client.registry.register_model(model, "churn-clf")
    client.registry.transition("churn-clf", 1, "production", reason="first model")
    return client


@pytest.fixture
def live(registered: tf.Client, tmp_path: Path) -> Iterator[tuple[tf.Client, int]]:
    """A real ``trackflow serve`` process on a free port, serving churn-clf in production."""
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "trackflow.cli.main", "serve", "models:/churn-clf@production",
               "--port", str(port), "--poll-interval", "1"]
    with server_process(command, ready_url=f"http://127.0.0.1:{port}/health", env=env, log=tmp_path / "serve.log"):
        yield registered, port


def test_failed_starts_on_a_busy_port_record_nothing(live: tuple[tf.Client, int], capsys: pytest.CaptureFixture[str]) -> None:
    client, port = live
    [before] = client.registry.deployments("churn-clf")
    assert before.status == ACTIVE
    for _ in range(2):
        code, out, err = invoke(["serve", "models:/churn-clf@production", "--port", str(port)], capsys)
        assert code == 1 and f"Port {port} on 127.0.0.1 is in use" in out + err
        assert "Serving" not in out + err
    [after] = client.registry.deployments("churn-clf")  # no new record; the live one is not "replaced"
    assert (after.id, after.status, after.until) == (before.id, ACTIVE, None)


def test_an_unknown_model_fails_before_any_serving_line(registered: tf.Client, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = invoke(["serve", "models:/churn-cfl@production", "--port", str(free_port())], capsys)
    assert code == 1 and "churn-cfl" in out + err
    assert "Serving" not in out + err and "Traceback" not in out + err
    assert registered.registry.deployments("churn-clf") == []


def test_csv_bodies_are_scored_like_json(live: tuple[tf.Client, int]) -> None:
    _, port = live
    url = f"http://127.0.0.1:{port}/invocations"
    body = FEATURES.to_csv(index=False)
    with httpx.Client(timeout=30) as http:
        as_csv = http.post(url, content=body, headers={"Content-Type": "text/csv; charset=utf-8"})
        as_json = http.post(url, json=FEATURES.to_dict(orient="records"))
        missing = http.post(url, content=FEATURES[["age"]].to_csv(index=False), headers={"Content-Type": "text/csv"})
        empty = http.post(url, content=b"age,income\n", headers={"Content-Type": "text/csv"})
    assert as_csv.status_code == 200 and as_csv.json() == as_json.json()
    assert len(as_csv.json()["predictions"]) == len(FEATURES)
    assert missing.status_code == 422 and "income" in missing.json()["message"]
    assert empty.status_code == 422 and "no rows" in empty.json()["message"]


def _scoring_runs(client: tf.Client) -> list[Any]:
    return [r for r in client.search_runs() if (r.name or "").startswith("predict-")]


def test_models_predict_scores_a_file_with_lineage(
    registered: tf.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, output = tmp_path / "customers.csv", tmp_path / "out" / "scored.parquet"
    FEATURES.to_csv(data, index=False)
    code, out, err = invoke(["models", "predict", "models:/churn-clf/production", str(data), "-o", str(output)], capsys)
    assert code == 0, out + err
    scored = pd.read_parquet(output)
    model = registered.registry.load_model("models:/churn-clf/1")
    assert list(scored["prediction"]) == list(model.predict(FEATURES))
    [run] = _scoring_runs(registered)
    assert run.id in out and run.status.value == "FINISHED" and run.tags["trackflow.model"] == "churn-clf/1"
    graph = registered.lineage("models:/churn-clf/1")
    relations = {(e.source.split(":")[0], e.relation, e.target.split(":")[0]) for e in graph.edges}
    assert {("dataset", "scored_by", "model"), ("model", "predicted", "dataset"), ("model", "used_by", "run")} <= relations
    assert {d.name for d in registered.get_datasets(run.id)} == {"scoring-input", "predictions"}

    code, out, err = invoke(["models", "predict", "models:/churn-clf/1", str(data)], capsys)  # to stdout
    assert code == 0 and out.splitlines()[0] == "age,income,prediction" and len(out.splitlines()) == 5


def test_models_predict_refusals_write_and_record_nothing(
    registered: tf.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "customers.csv"
    FEATURES[["age"]].to_csv(data, index=False)
    cases = [
        (["models:/churn-clf/1", str(data), "-o", str(tmp_path / "scored.csv")], "income"),  # a missing column
        (["models:/churn-clf/1", str(data), "-o", str(tmp_path / "scored.txt")], ".csv or .parquet"),
        (["models:/churn-clf/9", str(data), "-o", str(tmp_path / "scored.csv")], "resolves to no version"),
    ]
    for args, message in cases:
        code, out, err = invoke(["models", "predict", *args], capsys)
        assert code == 1 and message in out + err and "Traceback" not in out + err
    assert _scoring_runs(registered) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["customers.csv",
                                                                                               "trackflow-home"]
