"""Headless Chromium driven over the DevTools protocol, for the browser tests.

A small API shared by the dashboard and ui browser tests::

    with start_chromium(tmp_path / "chromium") as browser:
        browser.goto("http://127.0.0.1:5000/")
        browser.wait("document.querySelector('#runs')")     # first truthy value of a JS expression
        browser.js("document.title")                         # evaluate (awaits promises)
        browser.click("document.querySelector('a.sort')")   # a real mouse click on that element
        browser.screenshot(path)
        assert browser.console_errors() == []

Every connection stays on 127.0.0.1: Chromium resolves no other host name and runs with
its background networking off. ``chromium_path()`` is None when no Chromium is installed
(the tests then call ``ci_gate.unavailable``).
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from process_helpers import free_port

__all__ = ["Browser", "chromium_path", "free_port", "start_chromium", "until"]

_CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def chromium_path() -> str | None:
    """The Chromium (or Chrome) binary on PATH, or None."""
    for name in _CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def until(probe: Callable[[], Any], timeout: float, what: str) -> Any:
    """The first truthy value of ``probe()`` within ``timeout`` s (HTTP/OS/value errors retried); TimeoutError otherwise."""
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


def _chromium_args(profile: Path, window: str) -> list[str]:
    return [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-default-apps", "--disable-domain-reliability", "--metrics-recording-only",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
        f"--user-data-dir={profile}", f"--window-size={window}",
    ]  # fmt: skip


class Browser:
    """Headless Chromium with one page, driven over the DevTools protocol (websocket).

    Console errors (``console.error``/``assert``, uncaught exceptions, error log entries
    such as failed resource loads) are collected from the start; read them with
    :meth:`console_errors`.
    """

    def __init__(self, chromium: str, profile: Path, *, window: str = "1400,1800") -> None:
        from websockets.sync.client import connect

        profile.mkdir(parents=True, exist_ok=True)
        (profile / "DevToolsActivePort").unlink(missing_ok=True)  # a reused profile: wait for the new port
        self.process = subprocess.Popen(
            [chromium, *_chromium_args(profile, window), "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        self._ids = itertools.count(1)
        self._errors: list[str] = []
        try:
            port = self._devtools_port(profile / "DevToolsActivePort")
            page = until(lambda: next((t for t in httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=5).json()
                                       if t.get("type") == "page"), None), 30, "a Chromium page")  # fmt: skip
            self.ws = connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=30)
            for domain in ("Page", "Runtime", "Log"):
                self.call(f"{domain}.enable")
        except BaseException:
            self.close()
            raise

    def _devtools_port(self, port_file: Path) -> int:
        def read() -> int | None:
            if self.process.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.process.returncode}")
            text = port_file.read_text().split() if port_file.exists() else []
            return int(text[0]) if text else None

        return int(until(read, 60, "Chromium's DevToolsActivePort file"))

    def _event(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            self._errors.append(f"console.{params['type']}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            described = details.get("exception", {}).get("description") or details.get("text", "")
            self._errors.append(f"uncaught: {described} ({details.get('url', '')}:{details.get('lineNumber', '')})")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            self._errors.append(f"log: {entry.get('text', '')} {entry.get('url', '')}".strip())

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and return its result (events in between are recorded)."""
        ident = next(self._ids)
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=60))
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]  # type: ignore[no-any-return]
            self._event(message)

    def js(self, expression: str) -> Any:
        """Evaluate ``expression`` in the page (promises awaited); its value (JSON-able)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def wait(self, expression: str, timeout: float = 60) -> Any:
        """The first truthy value of ``expression`` within ``timeout`` s (None if none: SPA still loading).

        A DOM node comes back as ``{}`` (falsy): wait for ``Boolean(node)`` or one of its properties.
        """
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
        """Navigate the page (returns at once; :meth:`wait` for what should appear)."""
        self.call("Page.navigate", url=url)

    def open(self, url: str, ready: str = "true", timeout: float = 60) -> bool:
        """Navigate to ``url``; True once the new document has loaded and ``ready`` (a JS expression) is truthy."""
        self.js("window.__browserHelpersOld = true")
        self.goto(url)
        return bool(self.wait(f"!window.__browserHelpersOld && document.readyState === 'complete' && !!({ready})", timeout))

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

    def type_text(self, text: str) -> None:
        """Type ``text`` into the focused element (as key presses)."""
        self.call("Input.insertText", text=text)

    def screenshot(self, path: Path, *, center_on: str | None = None, full_page: bool = False) -> None:
        """Save a PNG of the page (or the whole page), scrolled so that ``center_on`` (JS expression) is in view."""
        for _attempt in range(10 if center_on else 0):  # an SPA may re-render and scroll back
            self.js(f"(() => {{ const e = ({center_on}); if (e) e.scrollIntoView({{block: 'center'}}); }})()")
            time.sleep(0.5)
            if self.js(f"(() => {{ const e = ({center_on}); if (!e) return true; const r = e.getBoundingClientRect();"
                       " return r.top >= 0 && r.bottom <= innerHeight; })()"):  # fmt: skip
                break
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=full_page)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def console_errors(self, *, clear: bool = True) -> list[str]:
        """The console errors, uncaught exceptions and error log entries seen so far."""
        self.call("Runtime.evaluate", expression="0")  # read the events queued before now
        errors = list(self._errors)
        if clear:
            self._errors.clear()
        return errors

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


@contextmanager
def start_chromium(profile: Path, *, window: str = "1400,1800") -> Iterator[Browser]:
    """A :class:`Browser` on a fresh profile folder, closed (process group ended) afterwards.

    Raises RuntimeError when no Chromium is installed: check :func:`chromium_path` first.
    """
    chromium = chromium_path()
    if chromium is None:
        raise RuntimeError("no chromium binary installed (apt-get install chromium)")
    browser = Browser(chromium, profile, window=window)
    try:
        yield browser
    finally:
        browser.close()
