"""The compare data's history read on SQLite and PostgreSQL: many runs and keys in one go, NaN kept,
long histories thinned for the chart while last / min / max / at step use every value."""

from __future__ import annotations

import math

from trackflow.tracking.client import Client
from trackflow.tracking.histories import metric_histories
from trackflow.ui.compare_data import MAX_POINTS, compare_runs


def test_histories_of_several_runs_in_one_read(client: Client) -> None:
    runs = [client.create_run(experiment="histories").id for _ in range(3)]
    for i, run in enumerate(runs):
        for step in range(5):
            client.log_metrics(run, {"loss": 1.0 / (1 + step + i), "acc": step * 0.1}, step=step)
    client.log_metric(runs[0], "loss", float("nan"), step=5)
    found = metric_histories(client, runs, ["loss"])
    assert set(found) == set(runs) and all(set(keys) == {"loss"} for keys in found.values())
    assert [p[0] for p in found[runs[1]]["loss"]] == [0, 1, 2, 3, 4]
    assert found[runs[1]]["loss"][2][1] == 1.0 / 4 and found[runs[1]]["loss"][2][2] > 0
    assert math.isnan(found[runs[0]]["loss"][-1][1])
    assert set(metric_histories(client, runs[:1])[runs[0]]) == {"loss", "acc"}
    assert metric_histories(client, runs, []) == {}


def test_long_histories_are_thinned_for_the_chart_only(client: Client) -> None:
    long_run, short_run = (client.create_run(experiment="thin").id for _ in range(2))
    total = MAX_POINTS * 2 + 7
    for start in range(0, total, 1000):
        client.log_batch(long_run, metrics=[("loss", 1.0 / (1 + s), s) for s in range(start, min(start + 1000, total))])
    client.log_metric(short_run, "loss", 0.5, step=3)
    body = compare_runs(client, [long_run, short_run], step=10)
    series = {h["run_id"]: h for h in body["histories"]["loss"]}
    points = series[long_run]["points"]
    assert series[long_run]["total"] == total and len(points) <= MAX_POINTS
    assert points[0][0] == 0 and points[-1][0] == total - 1  # first and last kept
    (loss,) = body["metrics"]
    assert loss["runs"][0]["min"] == 1.0 / total and loss["runs"][0]["at_step"] == 1.0 / 11
    assert loss["runs"][1] == {"last": 0.5, "min": 0.5, "max": 0.5, "at_step": 0.5, "steps": 1}
