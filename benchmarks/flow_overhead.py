"""Overhead of trackflow's decorators over Prefect's own, measured inside the flow body.

Two flows of ``--tasks`` trivial tasks each: one calls them sequentially, one
``.submit()``s them all to the thread pool and waits for the results. Each exists twice,
with ``prefect.flow/task`` and with ``trackflow.flow/task``. The time measured is from the
first task call to the last result, inside the flow body (the flow's own start and end,
including trackflow's report publishing, are reported separately as ``whole_flow_s``).
Variants alternate, the first round is a warm-up, and medians are reported as JSON::

    python benchmarks/flow_overhead.py --tasks 50 --repetitions 7

Runs on Prefect's ephemeral API with a throw-away PREFECT_HOME and TRACKFLOW_HOME unless
those are set.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

__all__ = ["build_flows", "main"]


def _environment() -> None:
    os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="bench-prefect-"))
    os.environ.setdefault("TRACKFLOW_HOME", tempfile.mkdtemp(prefix="bench-trackflow-"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")


def build_flows(flow: Callable[..., Any], task: Callable[..., Any], label: str) -> dict[str, Any]:
    """The sequential and the submitting flow, built with the given decorators."""

    @task(name=f"{label}-step")
    def step(i: int) -> int:
        return i + 1

    @flow(name=f"{label}-sequential")
    def sequential(n: int) -> float:
        start = time.perf_counter()
        for i in range(n):
            step(i)
        return time.perf_counter() - start

    @flow(name=f"{label}-submit")
    def submit(n: int) -> float:
        start = time.perf_counter()
        futures = [step.submit(i) for i in range(n)]
        for future in futures:
            future.result()
        return time.perf_counter() - start

    return {"sequential": sequential, "submit": submit}


def _measure(flow_obj: Any, tasks: int) -> tuple[float, float]:
    start = time.perf_counter()
    inside = flow_obj(tasks)
    return float(inside), time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark and print (and return) the JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--repetitions", type=int, default=7)
    args = parser.parse_args(argv)
    _environment()

    import prefect

    import trackflow

    variants = {
        "prefect": build_flows(prefect.flow, prefect.task, "prefect"),
        "trackflow": build_flows(trackflow.flow, trackflow.task, "trackflow"),
    }
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for repetition in range(args.repetitions + 1):  # round 0 warms up (server, imports, caches)
        order = list(variants) if repetition % 2 else list(reversed(variants))
        for shape in ("sequential", "submit"):
            for name in order:
                measured = _measure(variants[name][shape], args.tasks)
                if repetition:
                    samples.setdefault((name, shape), []).append(measured)

    summary: dict[str, Any] = {"tasks": args.tasks, "repetitions": args.repetitions}
    for shape in ("sequential", "submit"):
        inside = {name: statistics.median(s[0] for s in samples[(name, shape)]) for name in variants}
        whole = {name: statistics.median(s[1] for s in samples[(name, shape)]) for name in variants}
        summary[shape] = {
            "prefect_s": round(inside["prefect"], 4),
            "trackflow_s": round(inside["trackflow"], 4),
            "ratio": round(inside["trackflow"] / inside["prefect"], 3),
            "overhead_per_task_ms": round(1000 * (inside["trackflow"] - inside["prefect"]) / args.tasks, 3),
            "whole_flow_s": {name: round(value, 4) for name, value in whole.items()},
            "whole_flow_ratio": round(whole["trackflow"] / whole["prefect"], 3),
        }
    print(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main()
