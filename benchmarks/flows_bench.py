"""trackflow's ``flow``/``task`` decorators against Prefect's own, in one process.

Both flows do the same thing (``build_flows`` of ``flow_overhead.py``): N trivial tasks
called one after another (``sequential``), all ``.submit()``ted and then awaited
(``submit``), or submitted to a ``DaskTaskRunner`` on one ``LocalCluster`` of two worker
processes (``dask``; the cluster starts before the timing and serves both flows). The
figure is the time of the whole flow call (what a user waits for: deferred writes and the
end-of-flow work included); the flow body (first task call to last result) is the second
figure. One ephemeral Prefect server (``prefect_test_harness``) serves both; after one
warm-up call each, the two flows alternate ``repeats`` times.
"""

from __future__ import annotations

import logging
import os
import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from flow_overhead import build_flows
from measure import Unavailable, profiled

__all__ = ["build_dask_flow", "decorator_overhead"]


def _decorators() -> tuple[Callable[..., Any], Callable[..., Any]]:
    try:
        from trackflow.tracked.decorators import flow, task
    except ImportError as exc:
        raise Unavailable(f"trackflow.tracked.decorators is not usable yet: {exc}") from exc
    return flow, task


def build_dask_flow(flow: Callable[..., Any], task: Callable[..., Any], label: str, address: str) -> Any:
    """A flow submitting N trivial tasks to the Dask cluster at ``address``; returns its body's seconds."""
    try:
        from prefect_dask.task_runners import DaskTaskRunner
    except ImportError as exc:
        raise Unavailable(f"prefect-dask is not installed: {exc}") from exc

    @task(name=f"{label}-dask-step")
    def step(i: int) -> int:
        return i + 1

    @flow(name=f"{label}-dask", task_runner=DaskTaskRunner(address=address))
    def on_dask(n: int) -> float:
        start = time.perf_counter()
        futures = [step.submit(i) for i in range(n)]
        for future in futures:
            future.result()
        return time.perf_counter() - start

    return on_dask


def _cluster(mode: str) -> AbstractContextManager[Any]:
    """A LocalCluster of two worker processes for the ``dask`` mode (nothing otherwise)."""
    if mode != "dask":
        return nullcontext(None)
    from distributed import LocalCluster

    return LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None)


def decorator_overhead(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """Alternate the trackflow and the Prefect flow: whole-call samples for both, body medians beside."""
    tf_flow, tf_task = _decorators()
    os.environ.setdefault("PREFECT_HOME", str(work / "prefect-home"))
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from prefect import flow, task
    from prefect.testing.utilities import prefect_test_harness

    logging.getLogger("prefect").setLevel(logging.WARNING)
    n, mode, repeats = params["tasks"], params["mode"], params.get("repeats", 5)
    body: dict[str, list[float]] = {"trackflow": [], "prefect": []}
    call: dict[str, list[float]] = {"trackflow": [], "prefect": []}
    started = time.perf_counter()
    with prefect_test_harness(server_startup_timeout=180), _cluster(mode) as cluster:
        server_s = time.perf_counter() - started
        if cluster is None:  # the flows of flow_overhead.py (the standalone version of this measurement)
            flows = {"trackflow": build_flows(tf_flow, tf_task, "trackflow")[mode],
                     "prefect": build_flows(flow, task, "prefect")[mode]}
        else:
            flows = {"trackflow": build_dask_flow(tf_flow, tf_task, "trackflow", cluster.scheduler_address),
                     "prefect": build_dask_flow(flow, task, "prefect", cluster.scheduler_address)}
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
        "samples": call["trackflow"],
        "baseline_samples": call["prefect"],
        "body_ms": statistics.median(body["trackflow"]),
        "baseline_body_ms": statistics.median(body["prefect"]),
        "body_ratio": statistics.median(body["trackflow"]) / statistics.median(body["prefect"]),
        "server_start_s": server_s,
        "timed": "the whole flow call (second column: the flow body)",
        "note": "both sides in one process (peak RSS shared)"
        + ("; one LocalCluster(n_workers=2, processes=True) shared by both, started untimed" if mode == "dask" else ""),
    }
