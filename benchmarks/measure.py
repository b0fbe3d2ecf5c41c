"""Measurement helpers shared by both runners. Standard library only.

``runner_mlflow.py`` runs under a separate interpreter that has MLflow but not trackflow,
so nothing here may import trackflow (or anything outside the standard library).

A runner prints exactly one result line, prefixed with :data:`RESULT_MARKER`, so that
whatever the measured library prints on stdout cannot be mistaken for the result.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = [
    "RESULT_MARKER",
    "Handler",
    "DURABLE_CHECK",
    "Unavailable",
    "count_rows",
    "current_rss_mb",
    "peak_rss_mb",
    "percentile",
    "profiled",
    "run_workers",
    "runner_main",
    "runs_stored",
    "time_shapes",
    "timed_calls",
    "workdir",
    "worker_barrier",
]

RESULT_MARKER = "BENCH_RESULT "
READY_LINE = "BENCH_READY"
GO_LINE = "BENCH_GO"

Handler = Callable[[dict[str, Any], Path], dict[str, Any]]
"""A workload: (params, work folder) -> result fields (``value`` is the main figure)."""


class Unavailable(Exception):
    """The workload cannot run on this side yet (e.g. the API it needs does not exist)."""


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident set size in MiB (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(who).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def current_rss_mb() -> float | None:
    """Resident set size now, in MiB (None where /proc is missing)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return round(pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024), 1)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


DURABLE_CHECK = "separate read-only sqlite3 connection (file:...?mode=ro), opened after the timed part"
"""How every ``stored`` / ``durable`` figure is counted (reported as ``durable_check``)."""


def count_rows(db_path: str | Path, sql: str, args: Sequence[Any] = ()) -> int:
    """Run a COUNT query through a fresh read-only SQLite connection (what another process would see)."""
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=60)
    try:
        return int(connection.execute(sql, tuple(args)).fetchone()[0])
    finally:
        connection.close()


def runs_stored(db_path: str | Path, count: int, params: dict[str, Any], run_column: str) -> dict[str, Any]:
    """Durability figures of the create-runs workload: finished runs, params and metrics stored."""
    finished = count_rows(db_path, "SELECT COUNT(*) FROM runs WHERE status = 'FINISHED'")
    stored_params = count_rows(db_path, f"SELECT COUNT(DISTINCT {run_column} || '/' || key) FROM params")
    stored_metrics = count_rows(db_path, f"SELECT COUNT(DISTINCT {run_column} || '/' || key) FROM metrics")
    ok = (finished, stored_params, stored_metrics) == (count, count * params["params"], count * params["metrics"])
    return {"finished": finished, "stored_params": stored_params, "stored_metrics": stored_metrics,
            "durable": int(ok), "durable_check": DURABLE_CHECK}


@contextmanager
def workdir(prefix: str, keep: bool = False) -> Iterator[Path]:
    """A fresh temporary folder for one measurement (removed afterwards unless ``keep``)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


@contextmanager
def profiled() -> Iterator[None]:
    """Profile the block with pyinstrument when ``BENCH_PROFILE`` names an output file.

    Used around the timed part of a workload (see ``profile_workload.py``); a no-op
    otherwise, so pyinstrument is only needed for profiling.
    """
    target = os.environ.get("BENCH_PROFILE")
    if not target:
        yield
        return
    from pyinstrument import Profiler

    profiler = Profiler(interval=float(os.environ.get("BENCH_PROFILE_INTERVAL", "0.0005")))
    profiler.start()
    try:
        yield
    finally:
        profiler.stop()
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(profiler.output_text(unicode=False, color=False, show_all=False))


def time_shapes(
    queries: dict[str, Callable[[], Sequence[Any]]],
    *,
    calls: int,
    expected: dict[str, dict[str, Any]],
    top_field: Callable[[Any, str], Any],
    seed_s: float,
    rss_before: float | None,
) -> dict[str, Any]:
    """Time every query shape cold (its first call) and warm (median of ``calls`` more calls).

    The cold calls come first, in the order of ``queries`` (the first is the process's first
    query); then the warm calls. ``expected`` is ``seeding.expected_shapes(runs)``;
    ``top_field(result, field)`` reads one field (``acc``, ``max_depth``, ``run_id``) of one
    result of the tool under test. Shared by both runners so the two sides report alike.
    Figures per shape: ``{shape}_cold_ms``, ``{shape}_warm_ms``, ``{shape}_results``,
    ``{shape}_ok`` (result count and top result as generated); ``value`` is the first shape's warm time.
    """
    from seeding import SHAPES

    found: dict[str, Sequence[Any]] = {}
    figures: dict[str, Any] = {}
    for shape, query in queries.items():
        start = time.perf_counter()
        found[shape] = query()
        figures[f"{shape}_cold_ms"] = (time.perf_counter() - start) * 1000
    with profiled():
        for shape, query in queries.items():
            timings = []
            for _ in range(calls):
                start = time.perf_counter()
                found[shape] = query()
                timings.append(time.perf_counter() - start)
            figures[f"{shape}_warm_ms"] = statistics.median(timings) * 1000 if timings else math.nan
            figures[f"{shape}_calls"] = len(timings)
    for shape, results in found.items():
        want = expected[shape]
        top = top_field(results[0], SHAPES[shape]["top"]) if results else None
        figures[f"{shape}_results"] = len(results)
        figures[f"{shape}_ok"] = int(len(results) == want["results"] and top == want["top"])
    rss_after = current_rss_mb()
    first = next(iter(queries))
    return {
        "value": figures[f"{first}_warm_ms"],
        **figures,
        "results": figures[f"{first}_results"],
        "seed_s": seed_s,
        "seeding": "direct SQL bulk insert (sqlite3.executemany) in a child process",
        "cold": "the first call of each shape in the process, after seeding; shapes in order " + ", ".join(queries),
        "rss_before_mb": rss_before,
        "rss_after_mb": rss_after,
        "rss_growth_mb": round((rss_after or 0) - (rss_before or 0), 1),
    }


def emit(result: dict[str, Any]) -> None:
    """Print the one result line."""
    sys.stdout.flush()
    print(RESULT_MARKER + json.dumps(result, default=str), flush=True)


def runner_main(side: str, handlers: Mapping[str, Handler], workers: Mapping[str, Callable[..., None]]) -> None:
    """Command line of a runner: ``--workload NAME --params JSON`` (or ``--worker NAME``).

    Runs the handler in a fresh work folder and prints one result line with ``status``
    (``ok``, ``unavailable`` or ``error``), the handler's fields and ``peak_rss_mb``.
    """
    parser = argparse.ArgumentParser(description=f"{side} benchmark runner")
    parser.add_argument("--workload", help="workload name")
    parser.add_argument("--worker", help="internal: run one worker process of a workload")
    parser.add_argument("--params", default="{}", help="workload sizes as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    params = json.loads(args.params)
    if args.worker:
        workers[args.worker](params)
        return
    if args.workload not in handlers:
        emit({"side": side, "workload": args.workload, "status": "error", "reason": f"unknown workload {args.workload!r}"})
        raise SystemExit(2)
    result: dict[str, Any] = {"side": side, "workload": args.workload, "params": params}
    with workdir(f"bench-{side}-{args.workload}-", keep=args.keep) as work:
        os.chdir(work)
        try:
            fields = handlers[args.workload](params, work)
            result.update({"status": "ok", **fields})
        except Unavailable as exc:
            result.update({"status": "unavailable", "reason": str(exc)})
        except BaseException as exc:
            lines = traceback.format_exc().strip().splitlines()
            result.update({"status": "error", "reason": f"{type(exc).__name__}: {exc}"[:500], "traceback": lines[-15:]})
    result.setdefault("peak_rss_mb", peak_rss_mb())
    result["loadavg_1m"] = round(os.getloadavg()[0], 2)  # the machine may be shared: say how busy it was
    emit(result)


def timed_calls(call: Callable[[int], Any], count: int, max_seconds: float | None = None) -> dict[str, Any]:
    """Call ``call(i)`` for i in 0..count-1, timing each call; stop early after ``max_seconds``.

    Returns ``latencies_ns`` (an ``array('q')``), ``calls``, ``errors`` and the first
    error's text. An exception counts as an error and the loop goes on.
    """
    latencies = array("q")
    errors = 0
    first_error: str | None = None
    clock = time.perf_counter_ns
    deadline = clock() + int(max_seconds * 1e9) if max_seconds else None
    done = 0
    for i in range(count):
        start = clock()
        try:
            call(i)
        except Exception as exc:
            errors += 1
            if first_error is None:
                first_error = f"{type(exc).__name__}: {exc}"[:300]
        end = clock()
        latencies.append(end - start)
        done += 1
        if deadline is not None and end > deadline:
            break
    return {"latencies_ns": latencies, "calls": done, "errors": errors, "first_error": first_error}


def worker_barrier() -> float:
    """In a worker: say ready, wait for the go line; returns the wall time of the start."""
    print(READY_LINE, flush=True)
    for line in sys.stdin:
        if line.strip() == GO_LINE:
            break
    return time.time()


def run_workers(script: str | Path, name: str, count: int, params: dict[str, Any], timeout: float) -> list[dict[str, Any]]:
    """Start ``count`` worker processes of ``script``, release them together, collect results.

    Each worker is ``python script --worker NAME --params JSON``; it calls
    :func:`worker_barrier` when set up and prints one result line at the end. Results
    carry ``index``; a worker that failed gives ``{"status": "error", ...}``.
    """
    procs: list[subprocess.Popen[str]] = []
    for index in range(count):
        worker_params = json.dumps({**params, "index": index})
        procs.append(
            subprocess.Popen(
                [sys.executable, str(script), "--worker", name, "--params", worker_params],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    deadline = time.monotonic() + timeout
    try:
        for proc in procs:  # wait until every worker is set up
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.strip() == READY_LINE:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError("workers did not get ready in time")
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(GO_LINE + "\n")
            proc.stdin.flush()
        results = []
        for index, proc in enumerate(procs):
            out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
            found = [line for line in out.splitlines() if line.startswith(RESULT_MARKER)]
            if proc.returncode != 0 or not found:
                tail = (err or "").strip().splitlines()[-5:]
                results.append({"index": index, "status": "error", "reason": f"exit {proc.returncode}: {' | '.join(tail)}"})
            else:
                results.append({"index": index, **json.loads(found[-1][len(RESULT_MARKER):])})
        return results
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def latency_summary(paths: Sequence[Path]) -> dict[str, float]:
    """p50/p99/max (ms) over the per-call latencies that workers wrote as ``array('q')`` files."""
    merged = array("q")
    for path in paths:
        data = array("q")
        data.frombytes(Path(path).read_bytes())
        merged.extend(data)
    values = sorted(merged)
    if not values:
        return {"p50_call_ms": math.nan, "p99_call_ms": math.nan, "max_call_ms": math.nan, "calls": 0}
    return {
        "p50_call_ms": round(percentile(values, 50) / 1e6, 4),
        "p99_call_ms": round(percentile(values, 99) / 1e6, 4),
        "max_call_ms": round(values[-1] / 1e6, 2),
        "calls": len(values),
    }


def concurrent_summary(
    results: list[dict[str, Any]], stored: int, elapsed_from: str = "start_wall", elapsed_to: str = "done_wall"
) -> dict[str, Any]:
    """Combine worker results of the many-process workload into the reported figures."""
    ok = [r for r in results if r.get("status") == "ok"]
    failed = [r for r in results if r.get("status") != "ok"]
    if not ok:
        raise RuntimeError("every worker failed: " + "; ".join(str(r.get("reason")) for r in failed))
    start = min(r[elapsed_from] for r in ok)
    end = max(r[elapsed_to] for r in ok)
    logged = sum(r["calls"] - r["errors"] for r in ok)
    call_errors = sum(r["errors"] for r in ok)
    latencies = latency_summary([Path(r["latencies_file"]) for r in ok])
    elapsed = max(end - start, 1e-9)
    calls_end = max(float(r.get("calls_done_wall", r[elapsed_to])) for r in ok)
    first_errors = [r["first_error"] for r in ok if r.get("first_error")] + [str(r.get("reason")) for r in failed]
    return {
        "value": round(stored / elapsed, 1),
        "queued_values_per_s": round(logged / max(calls_end - start, 1e-9), 1),
        "stored": stored,
        "logged": logged,
        "elapsed_s": round(elapsed, 3),
        "errors": call_errors + len(failed) + max(0, logged - stored),
        "call_errors": call_errors,
        "lost_values": max(0, logged - stored),
        "failed_workers": len(failed),
        "max_end_run_s": round(max(r.get("end_run_s", 0.0) for r in ok), 3),
        "first_error": first_errors[0] if first_errors else None,
        **latencies,
    }
