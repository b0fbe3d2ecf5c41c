"""Seed many finished runs into a tracking database by direct SQL bulk inserts.

Creating 100,000 runs through either tool's API takes minutes (MLflow: ~1 hour), so the
search workloads seed their runs this way, for BOTH tools: the tool itself creates the
database (schema) and the experiment, then this module inserts the same generated runs
(same ids, params, metrics, tags) with ``sqlite3.executemany`` in chunks, in a child
process so the measuring process's peak RSS is not affected. Standard library only.

    python seeding.py --tool trackflow|mlflow --db PATH --experiment-id ID --runs N
                      [--artifact-root URI]

Each run has params ``model`` (rf / gbm / lr), ``max_depth``, ``n_estimators``; metrics
``acc`` and ``loss`` (history = latest); tags ``team`` (plus ``mlflow.runName`` on MLflow).
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["SHAPES", "SeedRun", "expected_shapes", "expected_top", "generate_runs", "seed_in_child", "seed_mlflow",
           "seed_trackflow"]

CHUNK = 10_000
BASE_TIME_MS = 1_700_000_000_000


@dataclass(frozen=True)
class SeedRun:
    """One generated run."""

    run_id: str
    name: str
    start_time: int
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]


def generate_runs(count: int, seed: int = 7) -> Iterator[SeedRun]:
    """Deterministic runs: the same ``count`` and ``seed`` give the same runs."""
    rng = random.Random(seed)
    for i in range(count):
        acc = rng.random()
        yield SeedRun(
            run_id=f"{rng.getrandbits(128):032x}",
            name=f"seed-{i}",
            start_time=BASE_TIME_MS + i * 1000,
            params={
                "model": rng.choice(("rf", "gbm", "lr")),
                "max_depth": str(rng.randint(2, 12)),
                "n_estimators": str(rng.choice((50, 100, 200))),
            },
            metrics={"acc": acc, "loss": 1.0 - acc + rng.random() * 0.1},
            tags={"team": rng.choice(("growth", "risk", "search"))},
        )


def _chunks(count: int, seed: int) -> Iterator[list[SeedRun]]:
    chunk: list[SeedRun] = []
    for run in generate_runs(count, seed):
        chunk.append(run)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def seed_trackflow(db_path: str, experiment_id: str, count: int, seed: int = 7) -> float:
    """Insert ``count`` FINISHED runs into trackflow's schema; returns seconds taken."""
    started = time.perf_counter()
    connection = sqlite3.connect(db_path, timeout=60)
    try:
        for chunk in _chunks(count, seed):
            with connection:
                connection.executemany(
                    "INSERT INTO runs (id, experiment_id, name, status, kind, start_time, end_time, attempts, "
                    "user, host, python_version, package_versions) "
                    "VALUES (?, ?, ?, 'FINISHED', 'manual', ?, ?, 1, 'bench', 'localhost', '3', '{}')",
                    [(r.run_id, experiment_id, r.name, r.start_time, r.start_time + 500) for r in chunk],
                )
                connection.executemany(
                    "INSERT INTO params (run_id, key, value) VALUES (?, ?, ?)",
                    [(r.run_id, k, v) for r in chunk for k, v in r.params.items()],
                )
                metric_rows = [(r.run_id, k, v, 0, 0, r.start_time + 400) for r in chunk for k, v in r.metrics.items()]
                connection.executemany(
                    "INSERT INTO metrics (run_id, key, value, is_nan, step, timestamp) VALUES (?, ?, ?, ?, ?, ?)",
                    metric_rows,
                )
                connection.executemany(
                    "INSERT INTO latest_metrics (run_id, key, value, is_nan, step, timestamp) VALUES (?, ?, ?, ?, ?, ?)",
                    metric_rows,
                )
                connection.executemany(
                    "INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?)",
                    [(r.run_id, k, v) for r in chunk for k, v in r.tags.items()],
                )
    finally:
        connection.close()
    return time.perf_counter() - started


def seed_mlflow(db_path: str, experiment_id: str, count: int, artifact_root: str, seed: int = 7) -> float:
    """Insert ``count`` FINISHED runs into MLflow's schema; returns seconds taken."""
    started = time.perf_counter()
    connection = sqlite3.connect(db_path, timeout=60)
    root = artifact_root.rstrip("/")
    try:
        for chunk in _chunks(count, seed):
            with connection:
                connection.executemany(
                    "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, "
                    "start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id) "
                    "VALUES (?, ?, 'LOCAL', '', '', 'bench', 'FINISHED', ?, ?, '', 'active', ?, ?)",
                    [
                        (r.run_id, r.name, r.start_time, r.start_time + 500, f"{root}/{r.run_id}/artifacts", int(experiment_id))
                        for r in chunk
                    ],
                )
                connection.executemany(
                    'INSERT INTO params ("key", value, run_uuid) VALUES (?, ?, ?)',
                    [(k, v, r.run_id) for r in chunk for k, v in r.params.items()],
                )
                metric_rows = [(k, v, r.start_time + 400, 0, 0, r.run_id) for r in chunk for k, v in r.metrics.items()]
                connection.executemany(
                    'INSERT INTO metrics ("key", value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, ?, ?)',
                    metric_rows,
                )
                connection.executemany(
                    'INSERT INTO latest_metrics ("key", value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, ?, ?)',
                    metric_rows,
                )
                connection.executemany(
                    'INSERT INTO tags ("key", value, run_uuid) VALUES (?, ?, ?)',
                    [(k, v, r.run_id) for r in chunk for k, v in [*r.tags.items(), ("mlflow.runName", r.name)]],
                )
    finally:
        connection.close()
    return time.perf_counter() - started


def expected_top(count: int, seed: int = 7, limit: int = 100) -> tuple[int, float | None]:
    """(matching runs, best acc) of the benchmark query over the generated runs (for checks)."""
    matching = [r.metrics["acc"] for r in generate_runs(count, seed) if r.params["model"] == "rf" and r.metrics["acc"] > 0.5]
    return len(matching), (max(matching) if matching else None)


SHAPES: dict[str, dict[str, Any]] = {
    # trackflow's pushdown fast path (search_sql.py): the ordered metric is constrained by an AND term
    "fast": {"filter": "metrics.acc > 0.5 and params.model = 'rf'", "order_by": ["metrics.acc DESC"],
             "top": "acc"},
    # misses it: OR across params and tags, ordered by a param (MLflow has no OR: ``union`` is run instead)
    "or": {"filter": "params.model = 'rf' or tags.team = 'risk'", "order_by": ["params.max_depth DESC"],
           "union": ["params.model = 'rf'", "tags.team = 'risk'"], "top": "max_depth"},
    # misses it: LIKE on a tag and a metric range, default order (newest first)
    "like": {"filter": "tags.team LIKE 'ri%' and metrics.loss >= 0.2 and metrics.loss < 0.4", "order_by": [],
             "top": "run_id"},
}
"""The query shapes of the search workloads: filter, order, and the field of the top result checked."""


def _matches(shape: str, run: SeedRun) -> bool:
    if shape == "fast":
        return run.params["model"] == "rf" and run.metrics["acc"] > 0.5
    if shape == "or":
        return run.params["model"] == "rf" or run.tags["team"] == "risk"
    return run.tags["team"].startswith("ri") and 0.2 <= run.metrics["loss"] < 0.4


def expected_shapes(count: int, seed: int = 7, limit: int = 100) -> dict[str, dict[str, Any]]:
    """Per shape of :data:`SHAPES`: matching runs, results expected, and the top result's checked field."""
    found: dict[str, list[SeedRun]] = {shape: [] for shape in SHAPES}
    for run in generate_runs(count, seed):
        for shape, runs in found.items():
            if _matches(shape, run):
                runs.append(run)
    tops: dict[str, Any] = {
        "fast": max((r.metrics["acc"] for r in found["fast"]), default=None),
        "or": max((r.params["max_depth"] for r in found["or"]), default=None),  # a param: compared as text
        "like": found["like"][-1].run_id if found["like"] else None,  # newest first
    }
    return {shape: {"matching": len(runs), "results": min(limit, len(runs)), "top": tops[shape]}
            for shape, runs in found.items()}


def seed_in_child(tool: str, db_path: str, experiment_id: str, count: int, artifact_root: str = "") -> float:
    """Seed in a child process (same interpreter); returns the seconds it reported."""
    command = [sys.executable, str(Path(__file__).resolve()), "--tool", tool, "--db", db_path,
               "--experiment-id", str(experiment_id), "--runs", str(count)]
    if artifact_root:
        command += ["--artifact-root", artifact_root]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"seeding failed: {completed.stderr.strip()[-500:]}")
    return float(json.loads(completed.stdout.strip().splitlines()[-1])["seed_s"])


def main() -> None:
    """Command line: seed one database and print the seconds taken as JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tool", choices=("trackflow", "mlflow"), required=True)
    parser.add_argument("--db", required=True, help="path of the SQLite file")
    parser.add_argument("--experiment-id", required=True)
    parser.add_argument("--runs", type=int, required=True)
    parser.add_argument("--artifact-root", default="file:///tmp/mlflow-artifacts")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.tool == "trackflow":
        seconds = seed_trackflow(args.db, args.experiment_id, args.runs, args.seed)
    else:
        seconds = seed_mlflow(args.db, args.experiment_id, args.runs, args.artifact_root, args.seed)
    print(json.dumps({"seed_s": round(seconds, 3), "runs": args.runs}))


if __name__ == "__main__":
    main()
