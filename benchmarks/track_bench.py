"""First tracking benchmark: one-at-a-time logging and a filtered, ordered search.

    python benchmarks/track_bench.py [--runs 10000] [--metrics 10000] [--params 100]

Prints JSON. Uses a fresh SQLite file and artifact folder in a temp directory.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--metrics", type=int, default=10_000)
    parser.add_argument("--params", type=int, default=100)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="trackflow-bench-"))
    os.environ["TRACKFLOW_HOME"] = str(home)
    os.environ.pop("TRACKFLOW_TRACKING_URI", None)
    import trackflow as tf

    client = tf.Client()
    result: dict[str, object] = {"database": client.tracking_uri}

    with tf.start_run(experiment="bench-logging") as run:
        start = time.perf_counter()
        for i in range(args.params):
            tf.log_param(f"param_{i}", i)
        params_s = time.perf_counter() - start
        start = time.perf_counter()
        for i in range(args.metrics):
            tf.log_metric(f"metric_{i % 10}", random.random(), step=i // 10)
        metrics_s = time.perf_counter() - start
    start = time.perf_counter()
    stored = len(client.get_metric_history(run.id, "metric_0")) * 10
    result["log_param_us_per_call"] = round(params_s / args.params * 1e6, 2)
    result["log_metric_us_per_call"] = round(metrics_s / args.metrics * 1e6, 2)
    result["metric_values_durable_after_run_end"] = stored

    start = time.perf_counter()
    for i in range(args.runs):
        created = client.create_run("bench-search", run_name=f"r{i}")
        client.log_batch(
            created.id,
            params={"model": random.choice(["rf", "gbm", "lr"])},
            metrics={"acc": random.random()},
        )
        client.end_run(created.id)
    result["seed_runs_per_second"] = round(args.runs / (time.perf_counter() - start), 1)

    timings = []
    for _ in range(7):
        start = time.perf_counter()
        found = client.search_runs(
            "bench-search",
            filter="metrics.acc > 0.5 and params.model = 'rf'",
            order_by=["metrics.acc DESC"],
            max_results=100,
        )
        timings.append(time.perf_counter() - start)
    result["search_runs"] = args.runs
    result["search_results"] = len(found)
    result["search_ms_median"] = round(statistics.median(timings) * 1000, 2)
    result["search_ms_min"] = round(min(timings) * 1000, 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
