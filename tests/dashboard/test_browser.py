"""End to end: a real Prefect server, a tracked flow run against it, the report in headless Chromium.

Chromium is driven over the DevTools protocol (a websocket on 127.0.0.1) so the test can
click through the UI the way a user does:

* the old UI, where Prefect's "View at .../runs/flow-run/<id>" link leads: the flow run
  page, its Artifacts tab (clicked: ``?tab=Artifacts`` in a fresh page load is reset to
  ``Logs`` because the tab is hidden until the flow run has loaded), then the report;
* the new UI under ``/v2/``: the report's artifact page.

In both, the report's Lineage section must start with a rendered image (an ``<img>`` whose
source is a ``data:image/svg+xml;base64,`` URI, ``naturalWidth > 0``), not mermaid text.
Screenshots are saved to the paths printed (and recorded as the test's properties).

Skipped only when no Chromium binary is installed, and never on CI (``CI=true``): there a
missing Chromium fails the test. Every connection stays on 127.0.0.1:
Chromium resolves no other host name and runs with its background networking off.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_helpers import Browser, chromium_path, until
from process_helpers import free_port, server_process

from ci_gate import unavailable

SCREENSHOT_OLD_UI = Path("/tmp/trackflow-report-old-ui.png")
SCREENSHOT_V2 = Path("/tmp/trackflow-report-v2.png")
REPORT_KEY = "trackflow-run-report-browser-flow"

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


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """A real ``prefect server start`` on a free local port, with its own home and database."""
    if chromium_path() is None:
        unavailable("no chromium binary installed (apt-get install chromium) for the browser test")
    home = tmp_path_factory.mktemp("prefect-server")
    port = free_port()
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
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with server_process(command, ready_url=f"{url}/api/health", env=env, log=home / "server.log", timeout=180):
        yield url, env


def _api(url: str, path: str, body: dict[str, Any], *, timeout: float = 30) -> Any:
    """POST to the Prefect API, retrying while SQLite answers 503 "database is locked"."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = httpx.post(f"{url}/api{path}", json=body, timeout=30)
            if response.status_code < 500:
                response.raise_for_status()
                return response.json()
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"the Prefect API kept failing on {path}")
        time.sleep(0.5)


# The Lineage section of the rendered report: what its first block is, and its image.
LINEAGE_JS = """(() => {
  const heading = [...document.querySelectorAll('h1, h2, h3')].find(h => h.textContent.trim() === 'Lineage');
  if (!heading) return null;
  let block = heading.nextElementSibling;
  while (block && !block.textContent.trim() && !block.querySelector('img')) block = block.nextElementSibling;
  if (!block) return null;
  const img = block.tagName === 'IMG' ? block : block.querySelector('img');
  return {
    block: block.tagName, text: block.textContent.trim().slice(0, 200),
    src: img ? img.getAttribute('src').slice(0, 40) : null,
    complete: img ? img.complete : false, naturalWidth: img ? img.naturalWidth : 0,
    width: img ? img.getBoundingClientRect().width : 0,
  };
})()"""
LINEAGE_IMG_JS = "[...document.querySelectorAll('img')].find(i => (i.getAttribute('src') || '').startsWith('data:image/svg+xml;base64,'))"
RENDERED_JS = f"(() => {{ const l = {LINEAGE_JS}; return l && l.complete && l.naturalWidth > 0 ? l : null; }})()"


def _assert_lineage_image(lineage: Any, ui: str, screenshot: Path) -> None:
    assert lineage, f"{ui}: no rendered Lineage section (screenshot {screenshot})"
    assert lineage["src"] is not None and lineage["src"].startswith("data:image/svg+xml;base64,"), (ui, lineage, str(screenshot))
    assert lineage["complete"] and lineage["naturalWidth"] > 0 and lineage["width"] > 0, (ui, lineage, str(screenshot))
    assert lineage["block"] != "PRE" and not re.match(r"(graph|flowchart)\b", lineage["text"]), (ui, lineage)


def _report_pages(browser: Browser, url: str, flow_run_id: str, artifact_id: str, report_link: str) -> dict[str, Any]:
    """Click through both UIs to the report; screenshots; what the Lineage sections hold."""
    seen: dict[str, Any] = {}
    # (a) the old UI, from the deep link Prefect logs: Logs tab first (with our one line), then Artifacts.
    browser.goto(f"{url}/runs/flow-run/{flow_run_id}")
    seen["old_ui_log_link"] = browser.wait(f"[...document.querySelectorAll('a')].some(a => a.href === {json.dumps(report_link)})", 60)
    artifacts_tab = "[...document.querySelectorAll('li.p-tab')].find(e => e.textContent.trim() === 'Artifacts')"
    report_card = f"[...document.querySelectorAll('a')].find(a => a.href.endsWith('/artifacts/artifact/{artifact_id}'))"
    for _attempt in range(3):  # the tab list re-renders while the flow run loads
        if browser.click(artifacts_tab) and browser.wait(f"Boolean({report_card})", 20):
            break
    seen["old_ui_tab_url"] = browser.js("location.href")
    assert browser.click(report_card), f"no link to the report on the Artifacts tab ({seen['old_ui_tab_url']})"
    seen["old_ui_url"] = browser.wait(f"location.pathname === '/artifacts/artifact/{artifact_id}' && location.href", 30)
    seen["old_ui"] = browser.wait(RENDERED_JS, 60) or browser.js(LINEAGE_JS)
    seen["old_ui_text"] = browser.js("document.body.innerText")
    browser.screenshot(SCREENSHOT_OLD_UI, center_on=LINEAGE_IMG_JS)
    # (b) the new UI's artifact page.
    browser.goto(f"{url}/v2/artifacts/artifact/{artifact_id}")
    seen["v2"] = browser.wait(RENDERED_JS, 60) or browser.js(LINEAGE_JS)
    seen["v2_text"] = browser.wait("document.body.innerText.includes('0.8765') && document.body.innerText", 30) or ""
    browser.screenshot(SCREENSHOT_V2, center_on=LINEAGE_IMG_JS)
    return seen


def test_report_renders_in_the_prefect_ui(
    prefect_server: tuple[str, dict[str, str]], tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    url, env = prefect_server
    script = tmp_path / "browser_flow.py"
    script.write_text(FLOW_SCRIPT)
    run_env = {**env, "TRACKFLOW_HOME": str(tmp_path / "trackflow"), "PREFECT_LOGGING_LEVEL": "INFO"}
    for name in ("TRACKFLOW_TRACKING_URI", "TRACKFLOW_ARTIFACT_ROOT"):
        run_env.pop(name, None)
    done = subprocess.run([sys.executable, str(script)], env=run_env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]

    found = _api(url, "/artifacts/filter", {"artifacts": {"key": {"any_": [REPORT_KEY]}}, "limit": 1})
    assert found, "the run report artifact was not published"
    artifact_id, flow_run_id, markdown = found[0]["id"], found[0]["flow_run_id"], found[0]["data"]
    assert "0.8765" in markdown
    assert re.search(r"## Lineage\s+!\[[^\]]*\]\(data:image/svg\+xml;base64,", markdown), "the lineage is not a markdown SVG image"
    assert "<details><summary>" in markdown and "```mermaid" in markdown, "the mermaid source is not kept (folded)"

    report_link = f"{url}/artifacts/artifact/{artifact_id}"
    logs = until(lambda: [log["message"] for log in _api(url, "/logs/filter", {"logs": {"flow_run_id": {"any_": [flow_run_id]}}})
                           if log["message"].startswith("trackflow")], 30, "trackflow line in the flow run's logs")  # fmt: skip
    assert len(logs) == 1 and re.fullmatch(rf"trackflow run [0-9a-f]+: report at {re.escape(report_link)}", logs[0]), logs

    chromium = chromium_path()
    assert chromium is not None
    browser = Browser(chromium, tmp_path / "chromium")
    try:
        seen = _report_pages(browser, url, flow_run_id, artifact_id, report_link)
    finally:
        browser.close()
    for name, path in (("screenshot_old_ui", SCREENSHOT_OLD_UI), ("screenshot_v2", SCREENSHOT_V2)):
        record_property(name, str(path))
        print(f"{name}: {path}")

    assert seen["old_ui_log_link"], "the old UI's Logs tab shows no link to the report"
    assert "tab=Artifacts" in seen["old_ui_tab_url"], seen["old_ui_tab_url"]
    assert seen["old_ui_url"], "clicking the report on the Artifacts tab did not open it"
    for ui, text in (("old UI", seen["old_ui_text"]), ("v2 UI", seen["v2_text"])):
        assert "0.8765" in text and "Rendered in Chromium" in text, f"{ui}: the report's content is not on the page"
    _assert_lineage_image(seen["old_ui"], "old UI", SCREENSHOT_OLD_UI)
    _assert_lineage_image(seen["v2"], "v2 UI", SCREENSHOT_V2)
