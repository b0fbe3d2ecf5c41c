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
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from measure import (
    DURABLE_CHECK,
    concurrent_summary,
    count_rows,
    current_rss_mb,
    peak_rss_mb,
    run_workers,
    runner_main,
    runs_stored,
    time_shapes,
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


def _async(mlflow: Any, params: dict[str, Any]) -> bool:
    """Switch MLflow to asynchronous logging when the variant asks for it; True when on."""
    on = params.get("mlflow_mode") == "async"
    mlflow.config.enable_async_logging(on)
    return on


def _settle(mlflow: Any, on_async: bool) -> float:
    """Flush the async queue (when on) and end the active run: the end of every until-durable timing."""
    started = time.perf_counter()
    if on_async:
        mlflow.flush_async_logging()
    mlflow.end_run()
    return time.perf_counter() - started


def _one_at_a_time(params: dict[str, Any], work: Path, table: str,
                   make_calls: Callable[[Any], Sequence[Callable[[], Any]]]) -> dict[str, Any]:
    """Time the calls one at a time, then flush + end_run: per call until durable, and queued."""
    mlflow, _, experiment_id, db = _open(work)
    on_async = _async(mlflow, params)
    calls = make_calls(mlflow)
    run = mlflow.start_run(experiment_id=experiment_id)
    start = time.perf_counter()
    for call in calls:
        call()
    queued = time.perf_counter() - start
    end = _settle(mlflow, on_async)
    total = time.perf_counter() - start
    stored = count_rows(db, f"SELECT COUNT(*) FROM {table} WHERE run_uuid = ?", [run.info.run_id])
    return {
        "value": total / len(calls) * 1e6,
        "queued_us": queued / len(calls) * 1e6,
        "end_run_ms": end * 1000,
        "calls": len(calls),
        "timed": "calls + flush_async_logging + end_run" if on_async else "calls + end_run",
        "stored": stored,
        "durable": int(stored == len(calls)),
        "durable_check": DURABLE_CHECK,
        "mlflow_version": mlflow.__version__,
    }


def log_metric(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """``mlflow.log_metric`` one value at a time, until durable (sync or async per the variant)."""
    keys = [f"metric_{k}" for k in range(params["keys"])]
    return _one_at_a_time(params, work, "metrics", lambda mlflow: [
        partial(mlflow.log_metric, key, random.random(), step=step) for step in range(params["steps"]) for key in keys
    ])


def log_param(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """``mlflow.log_param`` one value at a time, until durable (sync or async per the variant)."""
    return _one_at_a_time(params, work, "params", lambda mlflow: [
        partial(mlflow.log_param, f"param_{i}", i) for i in range(params["params"])
    ])


def log_batch(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """One ``MlflowClient.log_batch`` with every param and metric value, until durable; time per value."""
    mlflow, client, experiment_id, db = _open(work)
    from mlflow.entities import Metric, Param

    on_async = _async(mlflow, params)
    now = int(time.time() * 1000)
    batch_params = [Param(f"param_{i}", str(i)) for i in range(params["params"])]
    metrics = [
        Metric(f"metric_{k}", random.random(), now, step)
        for step in range(params["steps"])
        for k in range(params["keys"])
    ]
    run = mlflow.start_run(experiment_id=experiment_id)
    start = time.perf_counter()
    client.log_batch(run.info.run_id, metrics=metrics, params=batch_params)
    queued = time.perf_counter() - start
    end = _settle(mlflow, on_async)
    elapsed = time.perf_counter() - start
    total = len(batch_params) + len(metrics)
    stored = count_rows(db, "SELECT COUNT(*) FROM metrics WHERE run_uuid = ?", [run.info.run_id]) + count_rows(
        db, "SELECT COUNT(*) FROM params WHERE run_uuid = ?", [run.info.run_id]
    )
    return {"value": elapsed / total * 1e6, "queued_us": queued / total * 1e6, "call_ms": elapsed * 1000,
            "end_run_ms": end * 1000, "values": total, "stored": stored, "durable": int(stored == total),
            "durable_check": DURABLE_CHECK, "mlflow_version": mlflow.__version__}


def create_runs(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """Many short runs: start, one batch of params + metrics, end; then the async flush (until durable)."""
    mlflow, client, experiment_id, db = _open(work, "bench-runs")
    from mlflow.entities import Metric, Param

    on_async = _async(mlflow, params)
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
    queued = time.perf_counter() - start
    if on_async:
        mlflow.flush_async_logging()
    elapsed = time.perf_counter() - start
    return {"value": elapsed / count * 1000, "queued_ms": queued / count * 1000, "runs_per_s": count / elapsed,
            **runs_stored(db, count, params, "run_uuid"), "mlflow_version": mlflow.__version__}


def search(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """Seed runs by direct SQL (child process), then time every query shape cold and warm."""
    from seeding import SHAPES, expected_shapes, seed_in_child

    mlflow, client, experiment_id, db = _open(work, "bench-search")
    seed_s = seed_in_child("mlflow", str(db), experiment_id, params["runs"], (work / "artifacts").as_uri())
    rss_before = current_rss_mb()

    def one(filter_string: str, order_by: list[str]) -> list[Any]:
        return list(client.search_runs([experiment_id], filter_string=filter_string, order_by=order_by,
                                       max_results=100))

    def query(shape: dict[str, Any]) -> Callable[[], list[Any]]:
        if "union" not in shape:
            return lambda: one(shape["filter"], shape["order_by"])

        def union() -> list[Any]:  # no OR in MLflow's filter grammar: one search per branch, merged
            merged = {run.info.run_id: run for part in shape["union"] for run in one(part, shape["order_by"])}
            key = shape["order_by"][0].split()[0].split(".", 1)[1]
            return sorted(merged.values(), key=lambda run: run.data.params.get(key, ""), reverse=True)[:100]

        return union

    def top_field(run: Any, name: str) -> Any:
        if name == "run_id":
            return run.info.run_id
        return run.data.metrics.get(name) if name == "acc" else run.data.params.get(name)

    result = time_shapes({name: query(shape) for name, shape in SHAPES.items()}, calls=params["calls"],
                         expected=expected_shapes(params["runs"]), top_field=top_field, seed_s=seed_s,
                         rss_before=rss_before)
    result["or_query"] = "two searches (params.model = 'rf'; tags.team = 'risk') merged client-side: no OR in MLflow"
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
    return {**summary, "durable_check": DURABLE_CHECK, "peak_rss_mb": peak_rss_mb(__import__("resource").RUSAGE_CHILDREN),
            "parent_peak_rss_mb": peak_rss_mb()}


def concurrent_worker(params: dict[str, Any]) -> None:
    """One worker of the concurrent workload (prints its own result line)."""
    import mlflow

    mlflow.set_tracking_uri(params["uri"])
    on_async = _async(mlflow, params)
    index = params["index"]
    values = [random.random() for _ in range(1000)]
    run = mlflow.start_run(experiment_id=params["experiment_id"], run_name=f"worker-{index}")

    def call(i: int) -> None:
        mlflow.log_metric(f"m{i % 10}", values[i % 1000], step=i // 10)

    start_wall = worker_barrier()
    measured = timed_calls(call, params["values"], params["max_seconds"])
    calls_done_wall = time.time()
    end_run_s = _settle(mlflow, on_async)
    latencies = Path(params["work"]) / f"latencies-{index}.bin"
    latencies.write_bytes(measured.pop("latencies_ns").tobytes())
    del run
    emit_result({"status": "ok", "start_wall": start_wall, "calls_done_wall": calls_done_wall,
                 "done_wall": time.time(), "end_run_s": end_run_s,
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
    import sklearn

    # explicit pins (no inference subprocess), like the fixed pins trackflow writes
    pins = [f"scikit-learn=={sklearn.__version__}", f"numpy=={np.__version__}"] if params.get("pip_requirements") else None
    start = time.perf_counter()
    with mlflow.start_run(experiment_id=experiment_id):
        # skops, MLflow 3's default format (and trackflow's); the tree type must be trusted to load
        info = mlflow.sklearn.log_model(
            model, name="model", registered_model_name="bench-rf", input_example=x[:5],
            skops_trusted_types=["sklearn.tree._tree.Tree"], pip_requirements=pins,
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
        "pip_requirements": "explicit: " + ", ".join(pins) if pins else "inferred (MLflow's default)",
        "mlflow_version": mlflow.__version__,
    }


HANDLERS = {
    "log_metric": log_metric,
    "log_param": log_param,
    "log_batch": log_batch,
    "create_runs": create_runs,
    "search_100k": search,
    "search_1m": search,
    "concurrent_4proc": concurrent,
    "model_registry": model_registry,
}

if __name__ == "__main__":
    runner_main("mlflow", HANDLERS, {"concurrent": concurrent_worker})
