"""Benchmark the model registry round trip and print JSON.

One iteration: save a RandomForestClassifier (50 trees) as a package and log it with its
run, register it as the next version, point the ``champion`` alias at it, load it back by
``models:/bench@champion`` (sha256 verified, skops allowlist) and predict. The first
iteration pays one-time costs (imports, the skops allowlist); the warm figures are the
median of the following ones.

    python benchmarks/registry_bench.py [--iterations 7] [--tracking-uri URL]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from typing import Any

PHASES = ("save", "register", "alias", "load", "predict")


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def run_benchmark(iterations: int, tracking_uri: str | None) -> dict[str, Any]:
    """Time ``iterations`` round trips on a fresh store; return the measurements."""
    home = tempfile.mkdtemp(prefix="trackflow-bench-")
    os.environ["TRACKFLOW_HOME"] = home
    os.environ.pop("TRACKFLOW_ARTIFACT_ROOT", None)
    if tracking_uri:
        os.environ["TRACKFLOW_TRACKING_URI"] = tracking_uri
    else:
        os.environ.pop("TRACKFLOW_TRACKING_URI", None)

    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    from trackflow.registry.loading import load_model, log_package
    from trackflow.tracking.client import Client

    features, labels = make_classification(n_samples=2000, n_features=20, random_state=0)
    frame = pd.DataFrame(features, columns=[f"f{i}" for i in range(20)])
    model = RandomForestClassifier(n_estimators=50, random_state=0, n_jobs=1).fit(frame, labels)
    client = Client()
    registry = client.registry
    rows: list[dict[str, float]] = []
    for _ in range(iterations):
        run_id = client.create_run("bench").id
        source = f"runs:/{run_id}/model"
        times: dict[str, float] = {}
        _, times["save"] = _timed(partial(log_package, client, model, run_id, "model", input_example=frame.head(5)))
        version, times["register"] = _timed(partial(registry.create_version, "bench", source=source))
        _, times["alias"] = _timed(partial(registry.set_alias, "bench", "champion", version.version))
        loaded, times["load"] = _timed(partial(load_model, "models:/bench@champion", client=client))
        predictions, times["predict"] = _timed(partial(loaded.predict, frame.head(100)))
        assert len(predictions) == 100
        times["total"] = sum(times[p] for p in PHASES)
        rows.append(times)
    warm = rows[1:] or rows
    return {
        "benchmark": "registry round trip (RandomForestClassifier n_estimators=50)",
        "store": client.tracking_uri.split(":", 1)[0],
        "iterations": iterations,
        "payload_bytes": next(a.size for a in client.list_artifacts(run_id, "model") if a.path.endswith(".skops")),
        "cold_seconds": {k: round(v, 4) for k, v in rows[0].items()},
        "warm_median_seconds": {k: round(statistics.median(r[k] for r in warm), 4) for k in (*PHASES, "total")},
        "warm_max_total_seconds": round(max(r["total"] for r in warm), 4),
    }


def main(argv: list[str] | None = None) -> None:
    """Parse options, run, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--iterations", type=int, default=7)
    parser.add_argument("--tracking-uri", default=None, help="default: a SQLite file in a temp TRACKFLOW_HOME")
    args = parser.parse_args(argv)
    if args.iterations < 1:
        parser.error("--iterations must be at least 1")
    json.dump(run_benchmark(args.iterations, args.tracking_uri), sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
