"""trackflow side of the benchmark: one workload per process, one JSON result line.

    python benchmarks/runner_trackflow.py --workload NAME --params JSON

Each run gets a fresh TRACKFLOW_HOME (SQLite file + local artifact folder) in its own
temporary folder. Opening the store (schema migration) and creating the experiment happen
before the timed part, as on the MLflow side. Workload definitions: ``workloads.py``.
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
    Unavailable,
    concurrent_summary,
    count_rows,
    current_rss_mb,
    peak_rss_mb,
    profiled,
    run_workers,
    runner_main,
    runs_stored,
    time_shapes,
    timed_calls,
    worker_barrier,
)
from measure import emit as emit_result

EXPERIMENT = "bench"


def _use_home(work: Path) -> Path:
    """Point trackflow at a fresh home in ``work``; returns the SQLite file's path."""
    os.environ["TRACKFLOW_HOME"] = str(work / "home")
    os.environ.pop("TRACKFLOW_TRACKING_URI", None)
    os.environ.pop("TRACKFLOW_ARTIFACT_ROOT", None)
    return work / "home" / "trackflow.db"


def _open(work: Path) -> tuple[Any, Path]:
    """Import trackflow, open the store and create the experiment (untimed)."""
    db = _use_home(work)
    import trackflow as tf

    client = tf.Client()
    client.get_or_create_experiment(EXPERIMENT)
    return tf, db


def _settle(run: Any) -> float:
    """End ``run`` and flush everything queued (the end of every until-durable timing); seconds."""
    started = time.perf_counter()
    run.end()
    run.client.flush()  # the fluent API's client: everything this process queued
    return time.perf_counter() - started


def _durable(db: Path, run_id: str, table: str, expected: int) -> dict[str, Any]:
    stored = count_rows(db, f"SELECT COUNT(*) FROM {table} WHERE run_id = ?", [run_id])
    return {"stored": stored, "durable": int(stored == expected), "durable_check": DURABLE_CHECK}


def _one_at_a_time(tf: Any, db: Path, calls: Sequence[Callable[[], Any]], table: str) -> dict[str, Any]:
    """Time ``calls`` one at a time, then end_run + flush: per call until durable, and queued."""
    run = tf.start_run(experiment=EXPERIMENT)
    with profiled():
        start = time.perf_counter()
        for call in calls:
            call()
        queued = time.perf_counter() - start
        end = _settle(run)
        total = time.perf_counter() - start
    return {
        "value": total / len(calls) * 1e6,
        "queued_us": queued / len(calls) * 1e6,
        "end_run_ms": end * 1000,
        "calls": len(calls),
        "timed": "calls + end_run + flush",
        **_durable(db, run.id, table, len(calls)),
    }


def log_metric(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """``tf.log_metric`` one value at a time, until durable (queued: the calls only)."""
    tf, db = _open(work)
    keys = [f"metric_{k}" for k in range(params["keys"])]
    calls = [partial(tf.log_metric, key, random.random(), step=step) for step in range(params["steps"]) for key in keys]
    return _one_at_a_time(tf, db, calls, "metrics")


def log_param(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """``tf.log_param`` one value at a time, until durable (queued: the calls only)."""
    tf, db = _open(work)
    calls = [partial(tf.log_param, f"param_{i}", i) for i in range(params["params"])]
    return _one_at_a_time(tf, db, calls, "params")


def log_batch(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """One ``tf.log_batch`` with every param and metric value, until durable; time per value."""
    tf, db = _open(work)
    batch_params = {f"param_{i}": i for i in range(params["params"])}
    metrics = [
        (f"metric_{k}", random.random(), step) for step in range(params["steps"]) for k in range(params["keys"])
    ]
    total = len(batch_params) + len(metrics)
    run = tf.start_run(experiment=EXPERIMENT)
    with profiled():
        start = time.perf_counter()
        tf.log_batch(params=batch_params, metrics=metrics)
        queued = time.perf_counter() - start
        end = _settle(run)
        elapsed = time.perf_counter() - start
    stored = count_rows(db, "SELECT COUNT(*) FROM metrics WHERE run_id = ?", [run.id]) + count_rows(
        db, "SELECT COUNT(*) FROM params WHERE run_id = ?", [run.id]
    )
    return {"value": elapsed / total * 1e6, "queued_us": queued / total * 1e6, "call_ms": elapsed * 1000,
            "end_run_ms": end * 1000, "values": total, "timed": "call + end_run + flush", "stored": stored,
            "durable": int(stored == total), "durable_check": DURABLE_CHECK}


def create_runs(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """Many short runs: start, one batch of params + metrics, end; then the flush (until durable)."""
    tf, db = _open(work)
    count = params["runs"]
    batches = [
        ({f"p{j}": j * i for j in range(params["params"])}, {f"m{j}": random.random() for j in range(params["metrics"])})
        for i in range(count)
    ]
    with profiled():
        start = time.perf_counter()
        for i, (run_params, run_metrics) in enumerate(batches):
            with tf.start_run(experiment="bench-runs", run_name=f"run-{i}") as active:
                tf.log_batch(params=run_params, metrics=run_metrics)
        queued = time.perf_counter() - start
        active.client.flush()
        elapsed = time.perf_counter() - start
    return {"value": elapsed / count * 1000, "queued_ms": queued / count * 1000, "runs_per_s": count / elapsed,
            "timed": "runs + final flush", **runs_stored(db, count, params, "run_id")}


def search(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """Seed runs by direct SQL (child process), then time every query shape cold and warm."""
    from seeding import SHAPES, expected_shapes, seed_in_child

    db = _use_home(work)
    import trackflow as tf

    client = tf.Client()
    experiment = client.get_or_create_experiment("bench-search")
    seed_s = seed_in_child("trackflow", str(db), experiment.id, params["runs"])
    rss_before = current_rss_mb()

    def query(shape: dict[str, Any]) -> Callable[[], list[Any]]:
        return lambda: client.search_runs("bench-search", filter=shape["filter"], order_by=shape["order_by"],
                                          max_results=100)

    def top_field(run: Any, name: str) -> Any:
        return run.id if name == "run_id" else run.metrics.get(name) if name == "acc" else run.params.get(name)

    return time_shapes({name: query(shape) for name, shape in SHAPES.items()}, calls=params["calls"],
                       expected=expected_shapes(params["runs"]), top_field=top_field, seed_s=seed_s,
                       rss_before=rss_before)


def metric_rss(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """Log ``values`` metric values one at a time into one run; peak RSS growth over the opened store."""
    tf, db = _open(work)
    keys = [f"metric_{k}" for k in range(params["keys"])]
    count = params["values"]
    log = tf.log_metric
    run = tf.start_run(experiment=EXPERIMENT)
    rss_before = current_rss_mb() or 0.0
    with profiled():
        start = time.perf_counter()
        for i in range(count):
            log(keys[i % len(keys)], (i % 1000) / 1000.0, step=i // len(keys))
        queued = time.perf_counter() - start
        _settle(run)
        total = time.perf_counter() - start
    peak = peak_rss_mb()
    return {"value": round(peak - rss_before, 1), "rss_before_mb": rss_before, "peak_after_mb": peak,
            "rss_after_mb": current_rss_mb(), "until_durable_s": total, "queued_s": queued,
            **_durable(db, run.id, "metrics", count)}


def concurrent(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """N processes log metrics one at a time into one SQLite file."""
    _, db = _open(work)  # the schema and experiment exist before the workers start
    results = run_workers(
        __file__, "concurrent", params["procs"], {**params, "home": str(work / "home"), "work": str(work)},
        timeout=params["max_seconds"] * 20 + 300,
    )
    stored = count_rows(db, "SELECT COUNT(*) FROM metrics")
    summary = concurrent_summary(results, stored)
    return {**summary, "durable_check": DURABLE_CHECK, "timed": "calls + end_run + flush in every worker",
            "peak_rss_mb": peak_rss_mb(__import__("resource").RUSAGE_CHILDREN), "parent_peak_rss_mb": peak_rss_mb()}


def concurrent_worker(params: dict[str, Any]) -> None:
    """One worker of the concurrent workload (prints its own result line)."""
    os.environ["TRACKFLOW_HOME"] = params["home"]
    import trackflow as tf

    index = params["index"]
    values = [random.random() for _ in range(1000)]
    run = tf.start_run(experiment=EXPERIMENT, run_name=f"worker-{index}")

    def call(i: int) -> None:
        tf.log_metric(f"m{i % 10}", values[i % 1000], step=i // 10)

    start_wall = worker_barrier()
    with profiled():
        measured = timed_calls(call, params["values"], params["max_seconds"])
        calls_done_wall = time.time()
        end_run_s = _settle(run)
    latencies = Path(params["work"]) / f"latencies-{index}.bin"
    latencies.write_bytes(measured.pop("latencies_ns").tobytes())
    emit_result({"status": "ok", "start_wall": start_wall, "calls_done_wall": calls_done_wall,
                 "done_wall": time.time(), "end_run_s": end_run_s,
                 "latencies_file": str(latencies), **measured})


def model_registry(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """Save + register a RandomForest, set an alias, load it by alias."""
    tf, _ = _open(work)
    try:
        from trackflow.registry.client import RegistryClient

        for needed in ("register_model", "set_alias"):
            if not hasattr(RegistryClient, needed):
                raise Unavailable(f"trackflow.registry.client.RegistryClient has no {needed}() yet")
        load_model = tf.load_model
    except (ImportError, AttributeError) as exc:
        raise Unavailable(f"the model registry is not usable yet: {exc}") from exc
    import numpy as np
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    x, y = make_classification(n_samples=params["rows"], n_features=params["features"], random_state=0)
    model = RandomForestClassifier(n_estimators=params["n_estimators"], random_state=0).fit(x, y)
    client = tf.Client()
    with profiled():
        start = time.perf_counter()
        with tf.start_run(experiment=EXPERIMENT):
            version = client.registry.register_model(model, "bench-rf", input_example=x[:5])
        registered = time.perf_counter()
        client.registry.set_alias("bench-rf", "champion", version.version)
        aliased = time.perf_counter()
        loaded = load_model("models:/bench-rf@champion")
        done = time.perf_counter()
    same = bool(np.array_equal(np.asarray(loaded.predict(x[:20])), model.predict(x[:20])))
    return {
        "value": done - start,
        "save_register_s": registered - start,
        "alias_s": aliased - registered,
        "load_s": done - aliased,
        "predictions_match": int(same),
    }


def _flows(params: dict[str, Any], work: Path) -> dict[str, Any]:
    _use_home(work)
    from flows_bench import decorator_overhead

    return decorator_overhead(params, work)


def _cli(params: dict[str, Any], work: Path) -> dict[str, Any]:
    from cli_bench import cli_time

    return cli_time(params, work)


def _ui_pages(params: dict[str, Any], work: Path) -> dict[str, Any]:
    from ui_bench import ui_pages

    return ui_pages(params, work)


def _notes_search(params: dict[str, Any], work: Path) -> dict[str, Any]:
    from notes_bench import notes_search

    figures = notes_search(notes=params["notes"], runs=params["runs"], calls=params["calls"], directory=work)
    queries = {f"{name}_ms": query["median_ms"] for name, query in figures["queries"].items()}
    return {"value": figures["worst_median_ms"], "notes": figures["notes"], "seed_s": figures["seed_s"], **queries}


def _quickstart(params: dict[str, Any], work: Path) -> dict[str, Any]:
    from cli_bench import quickstart

    return quickstart(params, work)


HANDLERS = {
    "log_metric": log_metric,
    "log_param": log_param,
    "log_batch": log_batch,
    "create_runs": create_runs,
    "search_100k": search,
    "search_1m": search,
    "metric_rss_1m": metric_rss,
    "concurrent_4proc": concurrent,
    "model_registry": model_registry,
    "flow_sequential": _flows,
    "flow_submit": _flows,
    "flow_dask": _flows,
    "cli_help": _cli,
    "cli_runs_list": _cli,
    "cli_models_list": _cli,
    "ui_pages": _ui_pages,
    "notes_search": _notes_search,
    "quickstart": _quickstart,
}

if __name__ == "__main__":
    runner_main("trackflow", HANDLERS, {"concurrent": concurrent_worker})
