"""trackflow's ``flow``/``task`` decorators against Prefect's own, in one process.

Both flows do the same thing (``build_flows`` of ``flow_overhead.py``): N trivial tasks
called one after another (``sequential``) or all ``.submit()``ted and then awaited
(``submit``). The figure is the time from the first task call to the last result,
measured inside the flow body; the time of the whole flow call is reported too. One ephemeral Prefect server
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

from flow_overhead import build_flows
from measure import Unavailable, profiled

__all__ = ["decorator_overhead"]


def _decorators() -> tuple[Callable[..., Any], Callable[..., Any]]:
    try:
        from trackflow.tracked.decorators import flow, task
    except ImportError as exc:
        raise Unavailable(f"trackflow.tracked.decorators is not usable yet: {exc}") from exc
    return flow, task


def decorator_overhead(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """Alternate the trackflow and the Prefect flow; per-repetition samples for both."""
    tf_flow, tf_task = _decorators()
    os.environ.setdefault("PREFECT_HOME", str(work / "prefect-home"))
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from prefect import flow, task
    from prefect.testing.utilities import prefect_test_harness

    logging.getLogger("prefect").setLevel(logging.WARNING)
    n, mode, repeats = params["tasks"], params["mode"], params.get("repeats", 5)
    flows = {  # the flows of flow_overhead.py (the standalone version of this measurement)
        "trackflow": build_flows(tf_flow, tf_task, "trackflow")[mode],
        "prefect": build_flows(flow, task, "prefect")[mode],
    }
    body: dict[str, list[float]] = {"trackflow": [], "prefect": []}
    call: dict[str, list[float]] = {"trackflow": [], "prefect": []}
    started = time.perf_counter()
    with prefect_test_harness(server_startup_timeout=180):
        server_s = time.perf_counter() - started
        for name in ("prefect", "trackflow"):  # warm-up: flow/task registration, imports
            flows[name](n)
        for rep in range(repeats):
            order = ("trackflow", "prefect") if rep % 2 == 0 else ("prefect", "trackflow")
            for name in order:
                watch = profiled() if (rep, name) == (0, "trackflow") else nullcontext()
                start = time.perf_counter()
                with watch:
                    inside = flows[name](n)
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
