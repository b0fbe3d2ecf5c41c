"""The ``trackflow`` command: start-up time of cheap commands, and quickstart reliability.

Each command runs in a subprocess with the ``trackflow`` console script of the running
interpreter's environment (``python -m trackflow.cli.main`` when there is none).
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from measure import peak_rss_mb

__all__ = ["cli_time", "quickstart", "trackflow_command"]


def trackflow_command() -> list[str]:
    """How to start the ``trackflow`` command of this environment."""
    script = Path(sys.executable).with_name("trackflow")
    if script.exists():
        return [str(script)]
    found = shutil.which("trackflow")
    return [found] if found else [sys.executable, "-m", "trackflow.cli.main"]


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKFLOW_", "PREFECT_API_URL"))}
    env.update({"PREFECT_SERVER_ANALYTICS_ENABLED": "false", **extra})
    return env


def _seed_runs(home: Path, count: int) -> None:
    """A few finished runs (through the Client) for ``runs list`` to show."""
    os.environ["TRACKFLOW_HOME"] = str(home)
    import trackflow as tf

    client = tf.Client()
    for i in range(count):
        run = client.create_run("bench-cli", run_name=f"cli-{i}")
        client.log_batch(run.id, params={"model": "rf", "i": i}, metrics={"acc": i / max(count, 1)})
        client.end_run(run.id)
    client.flush()


def _seed_models(home: Path, count: int) -> None:
    """A few registered models (through the registry client) for ``models list`` to show."""
    os.environ["TRACKFLOW_HOME"] = str(home)
    import trackflow as tf

    registry = tf.Client().registry
    for i in range(count):
        registry.create_model(f"bench-model-{i}", description="benchmark", tags={"team": "bench"})


def cli_time(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """Median wall time of ``trackflow ARGS`` over ``calls`` runs after one warm-up run."""
    home = work / "home"
    if params.get("runs"):
        _seed_runs(home, params["runs"])
    if params.get("models"):
        _seed_models(home, params["models"])
    env = _clean_env(TRACKFLOW_HOME=str(home), PREFECT_HOME=str(work / "prefect-home"))
    command = [*trackflow_command(), *params["args"]]
    timings = []
    for i in range(params["calls"] + 1):
        start = time.perf_counter()
        completed = subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=120)
        elapsed = time.perf_counter() - start
        if completed.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} exited {completed.returncode}: {completed.stderr.strip()[-300:]}")
        if i:  # the first run is the warm-up
            timings.append(elapsed)
    return {
        "value": statistics.median(timings),
        "min_s": min(timings),
        "max_s": max(timings),
        "command": " ".join(["trackflow", *params["args"]]),
        "peak_rss_mb": peak_rss_mb(resource.RUSAGE_CHILDREN),
    }


def quickstart(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """Run ``trackflow quickstart`` N times, each on a fresh PREFECT_HOME and TRACKFLOW_HOME."""
    command = [*trackflow_command(), "quickstart"]
    durations, failures = [], []
    for i in range(params["runs"]):
        folder = work / f"qs-{i}"
        folder.mkdir()
        env = _clean_env(TRACKFLOW_HOME=str(folder / "trackflow-home"), PREFECT_HOME=str(folder / "prefect-home"))
        start = time.perf_counter()
        try:
            completed = subprocess.run(
                command, env=env, cwd=folder, capture_output=True, text=True, check=False, timeout=params.get("timeout", 900)
            )
            ok, reason = completed.returncode == 0, f"exit {completed.returncode}: {completed.stderr.strip()[-300:]}"
        except subprocess.TimeoutExpired:
            ok, reason = False, "timed out"
        durations.append(time.perf_counter() - start)
        if not ok:
            failures.append(f"run {i + 1}: {reason}")
        shutil.rmtree(folder, ignore_errors=True)
    runs = params["runs"]
    return {
        "value": 100.0 * (runs - len(failures)) / runs,
        "successes": runs - len(failures),
        "runs": runs,
        "failures": len(failures),
        "failure_reasons": failures[:3],
        "median_duration_s": statistics.median(durations),
        "max_duration_s": max(durations),
        "peak_rss_mb": peak_rss_mb(resource.RUSAGE_CHILDREN),
    }
