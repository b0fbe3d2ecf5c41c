"""MLflow side of the benchmark: one workload per process, one JSON result line.

    /tmp/mlflow-venv/bin/python benchmarks/runner_mlflow.py --workload NAME --params JSON

Runs under an interpreter that has MLflow (see benchmarks/README.md); imports only mlflow,
the standard library, numpy and scikit-learn (plus the stdlib-only ``measure`` and
``seeding`` beside it). Each run gets a fresh ``sqlite:///`` tracking database (also the
registry) and a local ``file://`` artifact location in its own temporary folder, as in
the issue's anchor setup. Creating the database (MLflow's migrations) and the experiment
happen before the timed part, as on the trackflow side.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Any

from measure import (
    concurrent_summary,
    count_rows,
    current_rss_mb,
    peak_rss_mb,
    run_workers,
    runner_main,
    time_search,
    timed_calls,
    worker_barrier,
)
from measure import emit as emit_result

for _name, _value in (("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true"), ("MLFLOW_DISABLE_TELEMETRY", "true"),
                      ("DO_NOT_TRACK", "true"), ("GIT_PYTHON_REFRESH", "quiet")):
    os.environ.setdefault(_name, _value)  # before mlflow is imported (lazily, in the handlers)

EXPERIMENT = "bench"


def _open(work: Path, experiment: str = EXPERIMENT) -> tuple[Any, Any, str, Path]:
    """Import mlflow, create the database and the experiment (untimed).

    Returns (mlflow module, MlflowClient, experiment id, database path).
    """
    import mlflow
    from mlflow import MlflowClient

    db = work / "mlflow.db"
    uri = f"sqlite:///{db}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment_id = client.create_experiment(experiment, artifact_location=(work / "artifacts").as_uri())
    return mlflow, client, experiment_id, db


def log_metric(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """``mlflow.log_metric`` one value at a time; durability counted after the run ends."""
    mlflow, _, experiment_id, db = _open(work)
    keys = [f"metric_{k}" for k in range(params["keys"])]
    steps = params["steps"]
    values = [random.random() for _ in range(len(keys) * steps)]
    with mlflow.start_run(experiment_id=experiment_id) as run:
        i = 0
        start = time.perf_counter()
        for step in range(steps):
            for key in keys:
                mlflow.log_metric(key, values[i], step=step)
                i += 1
        loop = time.perf_counter() - start
        ending = time.perf_counter()
    end = time.perf_counter() - ending
    stored = count_rows(db, "SELECT COUNT(*) FROM metrics WHERE run_uuid = ?", [run.info.run_id])
    return {
        "value": loop / len(values) * 1e6,
        "per_call_incl_end_us": (loop + end) / len(values) * 1e6,
        "end_run_ms": end * 1000,
        "stored": stored,
        "durable": int(stored == len(values)),
        "mlflow_version": mlflow.__version__,
    }


def log_param(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """``mlflow.log_param`` one value at a time."""
    mlflow, _, experiment_id, db = _open(work)
    count = params["params"]
    with mlflow.start_run(experiment_id=experiment_id) as run:
        start = time.perf_counter()
        for i in range(count):
            mlflow.log_param(f"param_{i}", i)
        loop = time.perf_counter() - start
        ending = time.perf_counter()
    end = time.perf_counter() - ending
    stored = count_rows(db, "SELECT COUNT(*) FROM params WHERE run_uuid = ?", [run.info.run_id])
    return {
        "value": loop / count * 1e6,
        "per_call_incl_end_us": (loop + end) / count * 1e6,
        "end_run_ms": end * 1000,
        "stored": stored,
        "durable": int(stored == count),
        "mlflow_version": mlflow.__version__,
    }


def log_batch(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """One ``MlflowClient.log_batch`` with every param and metric value; time per value."""
    mlflow, client, experiment_id, db = _open(work)
    from mlflow.entities import Metric, Param

    now = int(time.time() * 1000)
    batch_params = [Param(f"param_{i}", str(i)) for i in range(params["params"])]
    metrics = [
        Metric(f"metric_{k}", random.random(), now, step)
        for step in range(params["steps"])
        for k in range(params["keys"])
    ]
    with mlflow.start_run(experiment_id=experiment_id) as run:
        start = time.perf_counter()
        client.log_batch(run.info.run_id, metrics=metrics, params=batch_params)
        elapsed = time.perf_counter() - start
    total = len(batch_params) + len(metrics)
    stored = count_rows(db, "SELECT COUNT(*) FROM metrics WHERE run_uuid = ?", [run.info.run_id]) + count_rows(
        db, "SELECT COUNT(*) FROM params WHERE run_uuid = ?", [run.info.run_id]
    )
    return {"value": elapsed / total * 1e6, "call_ms": elapsed * 1000, "values": total, "stored": stored,
            "durable": int(stored == total), "mlflow_version": mlflow.__version__}


def create_runs(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """Many short runs: start, one batch of params + metrics, end."""
    mlflow, client, experiment_id, db = _open(work, "bench-runs")
    from mlflow.entities import Metric, Param

    count = params["runs"]
    now = int(time.time() * 1000)
    batches = [
        ([Param(f"p{j}", str(j * i)) for j in range(params["params"])],
         [Metric(f"m{j}", random.random(), now, 0) for j in range(params["metrics"])])
        for i in range(count)
    ]
    start = time.perf_counter()
    for i, (run_params, run_metrics) in enumerate(batches):
        with mlflow.start_run(experiment_id=experiment_id, run_name=f"run-{i}") as run:
            client.log_batch(run.info.run_id, metrics=run_metrics, params=run_params)
    elapsed = time.perf_counter() - start
    finished = count_rows(db, "SELECT COUNT(*) FROM runs WHERE status = 'FINISHED'")
    return {"value": elapsed / count * 1000, "runs_per_s": count / elapsed, "finished": finished,
            "durable": int(finished == count), "mlflow_version": mlflow.__version__}


def search(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """Seed runs by direct SQL (child process), then time the benchmark query."""
    from seeding import expected_top, seed_in_child

    mlflow, client, experiment_id, db = _open(work, "bench-search")
    seed_s = seed_in_child("mlflow", str(db), experiment_id, params["runs"], (work / "artifacts").as_uri())
    rss_before = current_rss_mb()

    def query() -> list[Any]:
        return client.search_runs(
            [experiment_id],
            filter_string="metrics.acc > 0.5 and params.model = 'rf'",
            order_by=["metrics.acc DESC"],
            max_results=100,
        )

    result = time_search(
        query,
        calls=params["calls"],
        warmup=params.get("warmup", True),
        expected=expected_top(params["runs"]),
        top_acc=lambda found_run: found_run.data.metrics.get("acc"),
        seed_s=seed_s,
        rss_before=rss_before,
    )
    result["mlflow_version"] = mlflow.__version__
    return result


def concurrent(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """N processes log metrics one at a time into one SQLite file."""
    _, _, experiment_id, db = _open(work)
    results = run_workers(
        __file__, "concurrent", params["procs"],
        {**params, "uri": f"sqlite:///{db}", "experiment_id": experiment_id, "work": str(work)},
        timeout=params["max_seconds"] * 20 + 300,
    )
    stored = count_rows(db, "SELECT COUNT(*) FROM metrics")
    summary = concurrent_summary(results, stored)
    return {**summary, "peak_rss_mb": peak_rss_mb(__import__("resource").RUSAGE_CHILDREN),
            "parent_peak_rss_mb": peak_rss_mb()}


def concurrent_worker(params: dict[str, Any]) -> None:
    """One worker of the concurrent workload (prints its own result line)."""
    import mlflow

    mlflow.set_tracking_uri(params["uri"])
    index = params["index"]
    values = [random.random() for _ in range(1000)]
    run = mlflow.start_run(experiment_id=params["experiment_id"], run_name=f"worker-{index}")

    def call(i: int) -> None:
        mlflow.log_metric(f"m{i % 10}", values[i % 1000], step=i // 10)

    start_wall = worker_barrier()
    measured = timed_calls(call, params["values"], params["max_seconds"])
    ending = time.perf_counter()
    try:
        mlflow.end_run()
    except Exception:
        pass
    end_run_s = time.perf_counter() - ending
    latencies = Path(params["work"]) / f"latencies-{index}.bin"
    latencies.write_bytes(measured.pop("latencies_ns").tobytes())
    del run
    emit_result({"status": "ok", "start_wall": start_wall, "done_wall": time.time(), "end_run_s": end_run_s,
                 "latencies_file": str(latencies), **measured})


def model_registry(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """``mlflow.sklearn.log_model(registered_model_name=...)``, alias, ``pyfunc.load_model``."""
    _, client, experiment_id, _ = _open(work)
    import mlflow
    import mlflow.pyfunc
    import mlflow.sklearn
    import numpy as np
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    x, y = make_classification(n_samples=params["rows"], n_features=params["features"], random_state=0)
    model = RandomForestClassifier(n_estimators=params["n_estimators"], random_state=0).fit(x, y)
    start = time.perf_counter()
    with mlflow.start_run(experiment_id=experiment_id):
        # skops, MLflow 3's default format (and trackflow's); the tree type must be trusted to load
        info = mlflow.sklearn.log_model(
            model, name="model", registered_model_name="bench-rf", input_example=x[:5],
            skops_trusted_types=["sklearn.tree._tree.Tree"],
        )
    registered = time.perf_counter()
    client.set_registered_model_alias("bench-rf", "champion", info.registered_model_version)
    aliased = time.perf_counter()
    loaded = mlflow.pyfunc.load_model("models:/bench-rf@champion")
    done = time.perf_counter()
    same = bool(np.array_equal(np.asarray(loaded.predict(x[:20])), model.predict(x[:20])))
    return {
        "value": done - start,
        "save_register_s": registered - start,
        "alias_s": aliased - registered,
        "load_s": done - aliased,
        "predictions_match": int(same),
        "mlflow_version": mlflow.__version__,
    }


HANDLERS = {
    "log_metric": log_metric,
    "log_param": log_param,
    "log_batch": log_batch,
    "create_runs": create_runs,
    "search_10k": search,
    "search_100k": search,
    "concurrent_4proc": concurrent,
    "model_registry": model_registry,
}

if __name__ == "__main__":
    runner_main("mlflow", HANDLERS, {"concurrent": concurrent_worker})
