"""End to end: a real Prefect server, a tracked flow run against it, the report in headless Chromium.

Skipped only when no Chromium binary is installed. Every connection stays on 127.0.0.1:
Chromium resolves no other host name and runs with its background networking off.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

SCREENSHOT = Path("/tmp/trackflow-report.png")
_CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")

FLOW_SCRIPT = textwrap.dedent(
    """
    import numpy as np
    import trackflow as tf
    from trackflow import flow, task

    @task
    def make(n: int) -> np.ndarray:
        return np.linspace(0.0, 1.0, n)

    @task
    def score(values: np.ndarray) -> dict[str, float]:
        return {"browser_metric": 0.8765, "mean_value": float(values.mean())}

    @flow(name="browser-flow", experiment="browser")
    def browser_flow(n: int = 5) -> dict[str, float]:
        tf.note("Rendered in Chromium", kind="finding")
        return score(make(n))

    if __name__ == "__main__":
        print(browser_flow())
    """
)


def _chromium() -> str | None:
    for name in _CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """A real ``prefect server start`` on a free local port, with its own home and database."""
    if _chromium() is None:
        pytest.skip("no chromium binary installed (apt-get install chromium) for the browser test")
    home = tmp_path_factory.mktemp("prefect-server")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
        "PREFECT_API_URL": f"{url}/api",
        "PREFECT_UI_API_URL": f"{url}/api",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    log = (home / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if server.poll() is not None:
                pytest.fail(f"prefect server exited: {(home / 'server.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        else:
            pytest.fail("prefect server did not become healthy within 180 s")
        yield url, env
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _chromium_args(profile: Path, budget_ms: int) -> list[str]:
    return [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-default-apps", "--disable-domain-reliability", "--metrics-recording-only",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        f"--user-data-dir={profile}", f"--virtual-time-budget={budget_ms}", "--window-size=1400,2400",
    ]  # fmt: skip


def test_report_renders_in_the_prefect_ui(
    prefect_server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, env = prefect_server
    script = tmp_path / "browser_flow.py"
    script.write_text(FLOW_SCRIPT)
    run_env = {**env, "TRACKFLOW_HOME": str(tmp_path / "trackflow")}
    for name in ("TRACKFLOW_TRACKING_URI", "TRACKFLOW_ARTIFACT_ROOT"):
        run_env.pop(name, None)
    done = subprocess.run([sys.executable, str(script)], env=run_env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]

    found = httpx.post(
        f"{url}/api/artifacts/filter",
        json={"artifacts": {"key": {"any_": ["trackflow-run-report-browser-flow"]}}, "limit": 1},
        timeout=30,
    ).json()
    assert found, "the run report artifact was not published"
    artifact_id = found[0]["id"]
    assert "0.8765" in found[0]["data"] and "```mermaid" in found[0]["data"]

    page = f"{url}/v2/artifacts/artifact/{artifact_id}"
    chromium = _chromium()
    assert chromium is not None
    dom = ""
    for budget in (20_000, 60_000):  # the SPA fetches the artifact, then renders mermaid
        profile = tmp_path / f"chromium-{budget}"
        dumped = subprocess.run(
            [chromium, *_chromium_args(profile, budget), "--dump-dom", page],
            capture_output=True, text=True, timeout=240,
        )  # fmt: skip
        dom = dumped.stdout
        if "0.8765" in dom and "<svg" in dom and "flowchart" in dom.lower():
            break
    subprocess.run(
        [chromium, *_chromium_args(tmp_path / "chromium-shot", 30_000), f"--screenshot={SCREENSHOT}", page],
        capture_output=True, timeout=240,
    )  # fmt: skip
    assert "0.8765" in dom, "the metric value is not on the rendered page"
    assert "Rendered in Chromium" in dom
    assert "<svg" in dom and "flowchart" in dom.lower(), "the mermaid lineage diagram was not rendered"
