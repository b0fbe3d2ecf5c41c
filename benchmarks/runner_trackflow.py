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
from pathlib import Path
from typing import Any

from measure import (
    Unavailable,
    concurrent_summary,
    count_rows,
    current_rss_mb,
    peak_rss_mb,
    profiled,
    run_workers,
    runner_main,
    time_search,
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

    client = tf.get_client()
    client.get_or_create_experiment(EXPERIMENT)
    return tf, db


def log_metric(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """``tf.log_metric`` one value at a time; durability counted after the run ends."""
    tf, db = _open(work)
    keys = [f"metric_{k}" for k in range(params["keys"])]
    steps = params["steps"]
    values = [random.random() for _ in range(len(keys) * steps)]
    with profiled(), tf.start_run(experiment=EXPERIMENT) as run:
        i = 0
        start = time.perf_counter()
        for step in range(steps):
            for key in keys:
                tf.log_metric(key, values[i], step=step)
                i += 1
        loop = time.perf_counter() - start
        ending = time.perf_counter()
    end = time.perf_counter() - ending
    stored = count_rows(db, "SELECT COUNT(*) FROM metrics WHERE run_id = ?", [run.id])
    return {
        "value": loop / len(values) * 1e6,
        "per_call_incl_end_us": (loop + end) / len(values) * 1e6,
        "end_run_ms": end * 1000,
        "stored": stored,
        "durable": int(stored == len(values)),
    }


def log_param(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """``tf.log_param`` one value at a time; stored params counted after the run ends."""
    tf, db = _open(work)
    count = params["params"]
    with profiled(), tf.start_run(experiment=EXPERIMENT) as run:
        start = time.perf_counter()
        for i in range(count):
            tf.log_param(f"param_{i}", i)
        loop = time.perf_counter() - start
        ending = time.perf_counter()
    end = time.perf_counter() - ending
    stored = count_rows(db, "SELECT COUNT(*) FROM params WHERE run_id = ?", [run.id])
    return {
        "value": loop / count * 1e6,
        "per_call_incl_end_us": (loop + end) / count * 1e6,
        "end_run_ms": end * 1000,
        "stored": stored,
        "durable": int(stored == count),
    }


def log_batch(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """One ``tf.log_batch`` with every param and metric value, until stored; time per value."""
    tf, db = _open(work)
    batch_params = {f"param_{i}": i for i in range(params["params"])}
    metrics = [
        (f"metric_{k}", random.random(), step) for step in range(params["steps"]) for k in range(params["keys"])
    ]
    with profiled():
        run = tf.start_run(experiment=EXPERIMENT)
        start = time.perf_counter()
        tf.log_batch(params=batch_params, metrics=metrics)
        run.client.end_run(run.id)  # trackflow queues the batch: time it until it is written
        elapsed = time.perf_counter() - start
    total = len(batch_params) + len(metrics)
    stored = count_rows(db, "SELECT COUNT(*) FROM metrics WHERE run_id = ?", [run.id]) + count_rows(
        db, "SELECT COUNT(*) FROM params WHERE run_id = ?", [run.id]
    )
    return {"value": elapsed / total * 1e6, "call_ms": elapsed * 1000, "values": total, "stored": stored,
            "durable": int(stored == total)}


def create_runs(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """Many short runs: start, one batch of params + metrics, end."""
    tf, db = _open(work)
    count = params["runs"]
    batches = [
        ({f"p{j}": j * i for j in range(params["params"])}, {f"m{j}": random.random() for j in range(params["metrics"])})
        for i in range(count)
    ]
    with profiled():
        start = time.perf_counter()
        for i, (run_params, run_metrics) in enumerate(batches):
            with tf.start_run(experiment="bench-runs", run_name=f"run-{i}"):
                tf.log_batch(params=run_params, metrics=run_metrics)
        elapsed = time.perf_counter() - start
    finished = count_rows(db, "SELECT COUNT(*) FROM runs WHERE status = 'FINISHED'")
    return {"value": elapsed / count * 1000, "runs_per_s": count / elapsed, "finished": finished,
            "durable": int(finished == count)}


def search(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """Seed runs by direct SQL (child process), then time the benchmark query."""
    from seeding import expected_top, seed_in_child

    db = _use_home(work)
    import trackflow as tf

    client = tf.get_client()
    experiment = client.get_or_create_experiment("bench-search")
    seed_s = seed_in_child("trackflow", str(db), experiment.id, params["runs"])
    rss_before = current_rss_mb()

    def query() -> list[Any]:
        return client.search_runs(
            "bench-search",
            filter="metrics.acc > 0.5 and params.model = 'rf'",
            order_by=["metrics.acc DESC"],
            max_results=100,
        )

    result = time_search(
        query,
        calls=params["calls"],
        warmup=params.get("warmup", True),
        expected=expected_top(params["runs"]),
        top_acc=lambda found_run: found_run.metrics.get("acc"),
        seed_s=seed_s,
        rss_before=rss_before,
    )
    return result


def concurrent(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """N processes log metrics one at a time into one SQLite file."""
    _, db = _open(work)  # the schema and experiment exist before the workers start
    results = run_workers(
        __file__, "concurrent", params["procs"], {**params, "home": str(work / "home"), "work": str(work)},
        timeout=params["max_seconds"] * 20 + 300,
    )
    stored = count_rows(db, "SELECT COUNT(*) FROM metrics")
    summary = concurrent_summary(results, stored)
    return {**summary, "peak_rss_mb": peak_rss_mb(__import__("resource").RUSAGE_CHILDREN),
            "parent_peak_rss_mb": peak_rss_mb()}


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
        ending = time.perf_counter()
        run.end()
        end_run_s = time.perf_counter() - ending
    latencies = Path(params["work"]) / f"latencies-{index}.bin"
    latencies.write_bytes(measured.pop("latencies_ns").tobytes())
    emit_result({"status": "ok", "start_wall": start_wall, "done_wall": time.time(), "end_run_s": end_run_s,
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
    client = tf.get_client()
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


def _quickstart(params: dict[str, Any], work: Path) -> dict[str, Any]:
    from cli_bench import quickstart

    return quickstart(params, work)


HANDLERS = {
    "log_metric": log_metric,
    "log_param": log_param,
    "log_batch": log_batch,
    "create_runs": create_runs,
    "search_10k": search,
    "search_100k": search,
    "concurrent_4proc": concurrent,
    "model_registry": model_registry,
    "flow_sequential": _flows,
    "flow_submit": _flows,
    "cli_help": _cli,
    "cli_runs_list": _cli,
    "ui_pages": _ui_pages,
    "quickstart": _quickstart,
}

if __name__ == "__main__":
    runner_main("trackflow", HANDLERS, {"concurrent": concurrent_worker})
