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

import base64
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ci_gate import unavailable

SCREENSHOT_OLD_UI = Path("/tmp/trackflow-report-old-ui.png")
SCREENSHOT_V2 = Path("/tmp/trackflow-report-v2.png")
REPORT_KEY = "trackflow-run-report-browser-flow"
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
        unavailable("no chromium binary installed (apt-get install chromium) for the browser test")
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


def _chromium_args(profile: Path) -> list[str]:
    return [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-default-apps", "--disable-domain-reliability", "--metrics-recording-only",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
        f"--user-data-dir={profile}", "--window-size=1400,1800",
    ]  # fmt: skip


class Browser:
    """Headless Chromium with one page, driven over the DevTools protocol (websocket)."""

    def __init__(self, chromium: str, profile: Path) -> None:
        from websockets.sync.client import connect

        profile.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [chromium, *_chromium_args(profile), "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        self._ids = itertools.count(1)
        try:
            port = self._devtools_port(profile / "DevToolsActivePort")
            page = _until(lambda: next((t for t in httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=5).json()
                                        if t.get("type") == "page"), None), 30, "a Chromium page")  # fmt: skip
            self.ws = connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=30)
        except BaseException:
            self.close()
            raise

    def _devtools_port(self, port_file: Path) -> int:
        def read() -> int | None:
            if self.process.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.process.returncode}")
            text = port_file.read_text().split() if port_file.exists() else []
            return int(text[0]) if text else None

        return _until(read, 60, "Chromium's DevToolsActivePort file")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and return its result (events in between are skipped)."""
        ident = next(self._ids)
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=60))
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]  # type: ignore[no-any-return]

    def js(self, expression: str) -> Any:
        """Evaluate ``expression`` in the page; its value (JSON-able)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def wait(self, expression: str, timeout: float = 60) -> Any:
        """The first truthy value of ``expression`` within ``timeout`` s (None if none: SPA still loading)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                value = self.js(expression)
            except RuntimeError:  # the page navigated while evaluating
                value = None
            if value:
                return value
            time.sleep(0.25)
        return None

    def goto(self, url: str) -> None:
        """Navigate the page."""
        self.call("Page.navigate", url=url)

    def click(self, find: str, timeout: float = 60) -> bool:
        """A real mouse click at the centre of the element the JS expression ``find`` returns."""
        point = self.wait(
            f"(() => {{ const e = ({find}); if (!e) return null; e.scrollIntoView({{block: 'center'}});"
            " const r = e.getBoundingClientRect(); return r.width && r.height ? [r.x + r.width / 2, r.y + r.height / 2] : null; })()",
            timeout,
        )  # fmt: skip
        if not point:
            return False
        x, y = point
        self.call("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)
        return True

    def screenshot(self, path: Path, *, center_on: str | None = None) -> None:
        """Save a PNG of the page, scrolled so that ``center_on`` (JS expression) is in view."""
        for _attempt in range(10 if center_on else 0):  # the SPA may re-render and scroll back
            self.js(f"(() => {{ const e = ({center_on}); if (e) e.scrollIntoView({{block: 'center'}}); }})()")
            time.sleep(0.5)
            if self.js(f"(() => {{ const e = ({center_on}); if (!e) return true; const r = e.getBoundingClientRect();"
                       " return r.top >= 0 && r.bottom <= innerHeight; })()"):  # fmt: skip
                break
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        """Close the websocket and end the Chromium process group this object started."""
        ws = getattr(self, "ws", None)
        if ws is not None:
            ws.close()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=20)


def _until(probe: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
        except (httpx.HTTPError, OSError, ValueError) as exc:
            last = exc
        time.sleep(0.2)
    raise TimeoutError(f"no {what} within {timeout} s" + (f" ({last})" if last else ""))


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
    logs = _until(lambda: [log["message"] for log in _api(url, "/logs/filter", {"logs": {"flow_run_id": {"any_": [flow_run_id]}}})
                           if log["message"].startswith("trackflow")], 30, "trackflow line in the flow run's logs")  # fmt: skip
    assert len(logs) == 1 and re.fullmatch(rf"trackflow run [0-9a-f]+: report at {re.escape(report_link)}", logs[0]), logs

    chromium = _chromium()
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
