"""trackflow's ``flow``/``task`` decorators against Prefect's own, in one process.

Both flows do the same thing: N tasks that add one, called one after another
(``sequential``) or all ``.submit()``ted and then awaited (``submit``). The figure is the
time from the first task call to the last result, measured inside the flow body; the
time of the whole flow call is reported too. One ephemeral Prefect server
(``prefect_test_harness``) serves both; after one warm-up call each, the two flows
alternate ``repeats`` times.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from measure import Unavailable, profiled

__all__ = ["flow_overhead", "make_flow"]


def make_flow(flow_decorator: Callable[..., Any], task_decorator: Callable[..., Any], name: str) -> Callable[..., Any]:
    """A flow of ``n`` add-one tasks (sequential or submitted) built with the given decorators."""

    @task_decorator
    def add_one(x: int) -> int:
        return x + 1

    def body(n: int, mode: str) -> float:
        start = time.perf_counter()
        if mode == "sequential":
            x = 0
            for _ in range(n):
                x = add_one(x)
            assert x == n
        else:
            futures = [add_one.submit(i) for i in range(n)]
            results = [future.result() for future in futures]
            assert results == [i + 1 for i in range(n)]
        return time.perf_counter() - start

    body.__name__ = name.replace("-", "_")
    return flow_decorator(name=name)(body)


def _decorators() -> tuple[Callable[..., Any], Callable[..., Any]]:
    try:
        from trackflow.flows.decorators import flow, task
    except ImportError as exc:
        raise Unavailable(f"trackflow.flows.decorators is not usable yet: {exc}") from exc
    return flow, task


def flow_overhead(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """Alternate the trackflow and the Prefect flow; per-repetition samples for both."""
    tf_flow, tf_task = _decorators()
    os.environ.setdefault("PREFECT_HOME", str(work / "prefect-home"))
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from prefect import flow, task
    from prefect.testing.utilities import prefect_test_harness

    logging.getLogger("prefect").setLevel(logging.WARNING)
    n, mode, repeats = params["tasks"], params["mode"], params.get("repeats", 5)
    flows = {
        "trackflow": make_flow(tf_flow, tf_task, "bench-trackflow"),
        "prefect": make_flow(flow, task, "bench-prefect"),
    }
    body: dict[str, list[float]] = {"trackflow": [], "prefect": []}
    call: dict[str, list[float]] = {"trackflow": [], "prefect": []}
    started = time.perf_counter()
    with prefect_test_harness(server_startup_timeout=180):
        server_s = time.perf_counter() - started
        for name in ("prefect", "trackflow"):  # warm-up: flow/task registration, imports
            flows[name](n, mode)
        for rep in range(repeats):
            order = ("trackflow", "prefect") if rep % 2 == 0 else ("prefect", "trackflow")
            for name in order:
                watch = profiled() if (rep, name) == (0, "trackflow") else nullcontext()
                start = time.perf_counter()
                with watch:
                    inside = flows[name](n, mode)
                call[name].append((time.perf_counter() - start) * 1000)
                body[name].append(inside * 1000)
    return {
        "samples": body["trackflow"],
        "baseline_samples": body["prefect"],
        "flow_call_ms": sorted(call["trackflow"])[len(call["trackflow"]) // 2],
        "baseline_flow_call_ms": sorted(call["prefect"])[len(call["prefect"]) // 2],
        "server_start_s": server_s,
        "note": "both sides in one process (peak RSS shared)",
    }
