"""Benchmark trackflow side by side with MLflow (and its decorators against Prefect's).

    python benchmarks/run.py [--quick] [--compare-mlflow PYTHON] [--repeat N] [--search-1m]
                             [--out DIR] [--only NAME,...] [--list]

Every workload in ``workloads.py`` runs ``--repeat`` times (capped per workload), each
measurement in a fresh subprocess (``runner_trackflow.py`` / ``runner_mlflow.py``) with its
own temporary folder, SQLite file and artifact folder. With ``--compare-mlflow`` the same
workload runs on MLflow under that interpreter (every baseline variant: synchronous and
asynchronous logging, ...), alternating with trackflow per repetition. Writes ``results.json`` and ``results.md`` into ``--out`` (default
``benchmarks/results/``) and prints the markdown. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from measure import RESULT_MARKER  # siblings: the script's folder is first on sys.path
from report import derive, evaluate, fmt, markdown, summarize_side
from workloads import Workload, by_name

HERE = Path(__file__).resolve().parent

RUNNERS = {"trackflow": HERE / "runner_trackflow.py", "mlflow": HERE / "runner_mlflow.py"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (minutes, not tens of minutes)")
    parser.add_argument("--compare-mlflow", metavar="PYTHON", help="interpreter with mlflow installed")
    parser.add_argument("--repeat", type=int, default=None, help="repetitions per workload (default 5; 2 with --quick)")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="where results.json / results.md go")
    parser.add_argument("--only", default="", help="comma-separated workload names")
    parser.add_argument("--list", action="store_true", help="list the workloads and exit")
    parser.add_argument("--search-1m", action="store_true",
                        help="with --quick: run search_1m anyway, at 1,000,000 runs (always run without --quick)")
    args = parser.parse_args(argv)
    if args.repeat is None:
        args.repeat = 2 if args.quick else 5
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    try:
        args.workloads = by_name([n.strip() for n in args.only.split(",") if n.strip()])
    except ValueError as exc:
        parser.error(str(exc))
    return args


def run_runner(python: str, side: str, workload: Workload, params: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement in a fresh subprocess; returns its result line (or an error)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKFLOW_")}
    env.update({"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PYTHONUNBUFFERED": "1"})
    if side == "mlflow":
        env.update({"MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true", "MLFLOW_DISABLE_TELEMETRY": "true"})
        env.pop("MLFLOW_TRACKING_URI", None)
        env.pop("MLFLOW_REGISTRY_URI", None)
    command = [python, str(RUNNERS[side]), "--workload", workload.name, "--params", json.dumps(params)]
    started = time.perf_counter()
    try:
        completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=workload.timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return {"side": side, "status": "error", "reason": f"timed out after {workload.timeout_s:.0f} s"}
    lines = [line for line in completed.stdout.splitlines() if line.startswith(RESULT_MARKER)]
    if not lines:
        tail = " | ".join(completed.stderr.strip().splitlines()[-3:])
        return {"side": side, "status": "error", "reason": f"runner exited {completed.returncode}: {tail}"[:500]}
    result: dict[str, Any] = json.loads(lines[-1][len(RESULT_MARKER):])
    result["wall_s"] = round(time.perf_counter() - started, 2)
    return result


def _progress(workload: Workload, label: str, result: dict[str, Any]) -> None:
    if result.get("status") == "ok" and "samples" in result:
        ours, theirs = result["samples"], result.get("baseline_samples") or []
        shown = f"{fmt(statistics.median(ours))} / {fmt(statistics.median(theirs) if theirs else None)} {workload.unit}"
    elif result.get("status") == "ok":
        shown = f"{fmt(result.get('value'))} {workload.unit}"
    else:
        shown = f"{result.get('status')}: {result.get('reason')}"
    print(f"[{workload.name}] {label}: {shown}", file=sys.stderr, flush=True)


def _entry(workload: Workload, params: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "name": workload.name,
        "title": workload.title,
        "description": workload.description,
        "unit": workload.unit,
        "better": workload.better,
        "baseline_kind": workload.baseline,
        "anchor": workload.anchor,
        "target_text": workload.target.describe(workload.unit),
        "params": params,
        "workload": workload,
        "baselines": {},
        "baseline": None,
    }


def _finish(entry: dict[str, Any], collected: dict[str, list[dict[str, Any]]] | None = None) -> list[dict[str, Any]]:
    """Verdicts of the entry, plus one entry per extra row of its workload (from the same results)."""
    workload: Workload = entry["workload"]
    entry["baseline"] = next(iter(entry["baselines"].values()), None)
    entry["verdict"] = evaluate(workload, entry["trackflow"], list(entry["baselines"].items()))
    entries = [entry]
    for row in workload.rows:
        if collected is None:
            break
        derived = derive(row, collected)
        sub = {**_entry(workload.derived(row), entry["params"]), "baseline_note": entry.get("baseline_note"),
               "derived_from": workload.name}
        sub["trackflow"] = summarize_side(derived.pop("trackflow"))
        sub["baselines"] = {label: summarize_side(results) for label, results in derived.items() if results}
        entries += _finish(sub)
    return entries


def measure_workload(workload: Workload, args: argparse.Namespace) -> list[dict[str, Any]]:
    """All repetitions of one workload on every side; its summarized entries (one per row)."""
    quick = args.quick and not (workload.option and getattr(args, workload.option, False))
    params = workload.params(quick)
    entry = _entry(workload, params)
    if params is None:
        flag = f" (add --{workload.option.replace('_', '-')})" if workload.option else ""
        entry["trackflow"] = {"status": "skipped", "reason": f"skipped with --quick{flag}"}
        return _finish(entry)
    repeat = min(args.repeat, workload.max_repeat or args.repeat)
    if workload.in_process:
        result = run_runner(sys.executable, "trackflow", workload, {**params, "repeats": repeat})
        _progress(workload, "trackflow vs prefect", result)
        ok = result.get("status") == "ok"
        ours = {k: v for k, v in result.items() if not k.startswith("baseline_")}
        theirs = {k: v for k, v in result.items() if k in ("status", "reason", "peak_rss_mb", "note")}
        theirs.update({k[len("baseline_"):]: v for k, v in result.items() if k.startswith("baseline_")})
        entry["trackflow"] = summarize_side([ours], result.get("samples") if ok else None)
        entry["baselines"] = {"Prefect": summarize_side([theirs], result.get("baseline_samples") if ok else None)}
        return _finish(entry)
    sides: list[tuple[str, str, dict[str, Any]]] = [("trackflow", sys.executable, params)]
    if args.compare_mlflow and workload.baseline == "mlflow":
        theirs_params = workload.params(quick, "mlflow") or params
        sides += [(b.side, args.compare_mlflow, {**theirs_params, **b.params}) for b in workload.baselines]
        if theirs_params != params:
            entry["baseline_note"] = (
                f"MLflow sizes {theirs_params}, {min(repeat, workload.baseline_max_repeat or repeat)} "
                "repetition(s): it takes too long otherwise"
            )
    mlflow_repeat = min(repeat, workload.baseline_max_repeat or repeat)
    collected: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in sides}
    for rep in range(repeat):
        order = sides if rep % 2 == 0 else list(reversed(sides))  # alternate who goes first
        for label, python, side_params in order:
            if label != "trackflow" and rep >= mlflow_repeat:
                continue
            result = run_runner(python, "trackflow" if label == "trackflow" else "mlflow", workload, side_params)
            _progress(workload, f"rep {rep + 1}/{repeat} {label}", result)
            collected[label].append(result)
    entry["trackflow"] = summarize_side(collected["trackflow"])
    entry["baselines"] = {label: summarize_side(results) for label, results in collected.items() if label != "trackflow"}
    return _finish(entry, collected)


def _version(python: str, module: str) -> str | None:
    code = f"import importlib.metadata as m; print(m.version({module!r}))"
    completed = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    return completed.stdout.strip() or None


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _memory_gb() -> float | None:
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return round(pages * size / 1024**3, 1)


def metadata(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    """Where and how the numbers were taken: the command, the machine, the versions, the date."""
    mlflow_python = None
    if args.compare_mlflow:
        code = "import platform; print(platform.python_version())"
        mlflow_python = subprocess.run([args.compare_mlflow, "-c", code], capture_output=True, text=True,
                                       check=False).stdout.strip() or None
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "command": " ".join(["python benchmarks/run.py", *argv]),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({_cpu()}), "
                   f"{_memory_gb()} GB RAM",
        "python": platform.python_version(),
        "trackflow": _version(sys.executable, "trackflow"),
        "prefect": _version(sys.executable, "prefect"),
        "prefect_dask": _version(sys.executable, "prefect-dask"),
        "dask": _version(sys.executable, "distributed"),
        "scikit_learn": _version(sys.executable, "scikit-learn"),
        "mlflow": _version(args.compare_mlflow, "mlflow") if args.compare_mlflow else None,
        "mlflow_python": args.compare_mlflow,
        "mlflow_python_version": mlflow_python,
        "quick": args.quick,
        "repeat": args.repeat,
        "workloads": [w.name for w in args.workloads],
        "sqlite": __import__("sqlite3").sqlite_version,
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def write_reports(out: Path, entries: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """Write results.json and results.md; returns the markdown."""
    text = markdown(entries, meta)
    serializable = [{k: v for k, v in e.items() if k != "workload"} for e in entries]
    (out / "results.json").write_text(json.dumps({"meta": meta, "results": serializable}, indent=2, default=str))
    (out / "results.md").write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    """Run the selected workloads, write results.json and results.md, print the markdown."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.list:
        for workload in args.workloads:
            print(f"{workload.name:18} {workload.title}")
        return 0
    if args.compare_mlflow and not _version(args.compare_mlflow, "mlflow"):
        print(f"error: {args.compare_mlflow} cannot import mlflow (see benchmarks/README.md)", file=sys.stderr)
        return 2
    meta = metadata(args, argv)
    args.out.mkdir(parents=True, exist_ok=True)
    entries: list[dict[str, Any]] = []
    for workload in args.workloads:
        entries += measure_workload(workload, args)
        text = write_reports(args.out, entries, meta)  # after each workload: a stopped run keeps its data
    meta["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    text = write_reports(args.out, entries, meta)
    print(text)
    print(f"wrote {args.out / 'results.json'} and {args.out / 'results.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
