"""``trackflow ui`` pages on a big store: server time and bytes of the runs page and the compare page.

The store is seeded through the Client's batched writes (``create_run(defer=True)``,
``log_batch``, ``end_run(defer=True)``: the write buffer's multi-row transactions): flow
runs with task runs under them (``tasks_per_flow``), params ``model`` / ``max_depth`` /
``lr``, metrics ``acc`` and ``loss``; ``history_runs`` flow runs also log ``loss`` at
``steps`` steps for the compare page's charts. Then ``trackflow ui`` starts as a subprocess
and every page is requested ``calls`` times after one cold request. Server time is read from
the ``Server-Timing`` header (time to the response's first byte inside the app), bytes from
the body.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cli_bench import trackflow_command
from measure import peak_rss_mb

__all__ = ["seed_ui_store", "ui_pages"]

EXPERIMENT = "bench-ui"


def seed_ui_store(client: Any, *, runs: int, tasks_per_flow: int, history_runs: int, steps: int, seed: int = 11) -> list[str]:
    """Seed about ``runs`` runs (flows and their tasks); returns the ids of the flow runs with a history."""
    rng = random.Random(seed)
    client.get_or_create_experiment(EXPERIMENT)
    flows = max(1, runs // (1 + tasks_per_flow))
    with_history: list[str] = []
    for i in range(flows):
        params: dict[str, Any] = {"model": rng.choice(("rf", "gbm", "lr")), "max_depth": rng.randint(2, 12),
                  "lr": round(rng.uniform(0.001, 0.3), 4)}
        flow = client.create_run(EXPERIMENT, run_name=f"flow-{i}", kind="flow", params=params, defer=True)
        acc = rng.random()
        client.log_batch(flow.id, metrics={"acc": acc, "loss": 1 - acc})
        if i < history_runs:
            with_history.append(flow.id)
            for step in range(steps):
                client.log_batch(flow.id, metrics={"loss": (1 - acc) / (1 + step * params["lr"])}, step=step)
        for t in range(tasks_per_flow):
            task = client.create_run(EXPERIMENT, run_name=f"task-{t}", kind="task", parent_run_id=flow.id,
                                     params={"step": t}, defer=True)
            client.log_batch(task.id, metrics={"acc": acc})
            client.end_run(task.id, defer=True)
        client.end_run(flow.id, defer=True)
    client.flush()
    return with_history


def _start_ui(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    import httpx

    command = [*trackflow_command(), "ui", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"trackflow ui exited {server.returncode}: {log.read_text()[-500:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/experiments", timeout=5).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    server.terminate()
    raise RuntimeError("trackflow ui did not answer within 120 s")


def _measure(url: str, calls: int) -> dict[str, Any]:
    """One cold request, then ``calls`` timed ones: server ms (Server-Timing), client ms, bytes."""
    import httpx

    server_ms, client_ms = [], []
    size = 0
    cold_ms = None
    with httpx.Client(timeout=120) as http:
        for i in range(calls + 1):
            start = time.perf_counter()
            response = http.get(url)
            elapsed = (time.perf_counter() - start) * 1000
            if response.status_code != 200:
                raise RuntimeError(f"GET {url}: HTTP {response.status_code}: {response.text[:300]}")
            took = float(response.headers["server-timing"].split("dur=")[1])
            size = len(response.content)
            if i == 0:
                cold_ms = took
                continue
            server_ms.append(took)
            client_ms.append(elapsed)
    return {
        "server_ms_median": round(statistics.median(server_ms), 2),
        "server_ms_min": round(min(server_ms), 2),
        "server_ms_max": round(max(server_ms), 2),
        "client_ms_median": round(statistics.median(client_ms), 2),
        "cold_server_ms": round(cold_ms or 0.0, 2),
        "bytes": size,
    }


def ui_pages(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """Seed, start ``trackflow ui``, time the pages; the figure is the runs page's median server time."""
    from measure import Unavailable

    try:
        import httpx  # noqa: F401 - the client used to time the pages
    except ImportError as exc:  # pragma: no cover - httpx comes with Prefect
        raise Unavailable("httpx is needed to time the ui pages") from exc
    home = work / "home"
    os.environ["TRACKFLOW_HOME"] = str(home)
    os.environ.pop("TRACKFLOW_TRACKING_URI", None)
    os.environ.pop("TRACKFLOW_ARTIFACT_ROOT", None)
    import trackflow as tf

    started = time.perf_counter()
    history = seed_ui_store(tf.Client(), runs=params["runs"], tasks_per_flow=params["tasks_per_flow"],
                            history_runs=params["history_runs"], steps=params["steps"])
    seed_s = time.perf_counter() - started
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "TRACKFLOW_UI_TOKEN"}
    server = _start_ui(env, port, work / "ui.log")
    base = f"http://127.0.0.1:{port}"
    columns = "params.model,params.max_depth,params.lr,metrics.acc,metrics.loss,metrics.loss:min"
    pages = {
        "runs_page": f"/experiments/{EXPERIMENT}",
        "runs_page_sorted_by_metric": f"/experiments/{EXPERIMENT}?columns={quote(columns)}&sort=metrics.acc",
        "runs_page_filtered": f"/experiments/{EXPERIMENT}?columns={quote(columns)}&sort=metrics.acc&filter="
                              + quote("metrics.acc > 0.5 and params.model = 'rf'"),
        "runs_page_last_page": f"/experiments/{EXPERIMENT}?offset={max(0, params['runs'] // (1 + params['tasks_per_flow']) - 50)}",
        "runs_api": f"/api/experiments/{EXPERIMENT}/runs?columns={quote(columns)}",
        "experiments_page": "/?metric=acc",
    }
    for count in params["compare_runs"]:
        pages[f"compare_{count}_runs"] = "/compare?runs=" + ",".join(history[:count])
    results: dict[str, Any] = {}
    try:
        for name, path in pages.items():
            results[name] = _measure(base + path, params["calls"])
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    flat = {f"{name}_{field}": figure for name, page in results.items()
            for field, figure in (("ms", page["server_ms_median"]), ("kb", round(page["bytes"] / 1024, 1)))}
    spread = "; ".join(f"{name} {page['server_ms_min']}-{page['server_ms_max']} ms" for name, page in results.items())
    return {
        "value": results["runs_page"]["server_ms_median"],
        **flat,
        "server_ms_spread": spread,
        "urls": "; ".join(f"{name}: {path}" for name, path in pages.items() if not name.startswith("compare")),
        "runs": params["runs"],
        "seed_s": round(seed_s, 1),
        "seeding": "Client batched writes (create_run(defer=True), log_batch, end_run(defer=True))",
        "peak_rss_mb": peak_rss_mb(),
    }


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
