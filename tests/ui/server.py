"""``trackflow ui`` as a real subprocess on a free loopback port (for the browser tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
from browser_helpers import free_port, until

__all__ = ["start_ui_server"]


@contextmanager
def start_ui_server(env: Mapping[str, str], log: Path, *, token: str | None = None) -> Iterator[str]:
    """Start ``trackflow ui --port P`` with ``env`` added to this process's environment; yield its base URL.

    With ``token`` the server requires it (given through TRACKFLOW_UI_TOKEN, as a user would).
    The process is ended when the block exits; its output goes to ``log``.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    child_env = {**os.environ, **env}
    child_env.pop("TRACKFLOW_UI_TOKEN", None)
    if token:
        child_env["TRACKFLOW_UI_TOKEN"] = token
    trackflow = Path(sys.executable).with_name("trackflow")  # the console script of this environment
    command = [str(trackflow), "ui", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("w") as output:
        server = subprocess.Popen(command, env=child_env, stdout=output, stderr=subprocess.STDOUT)
        try:
            headers = {"Authorization": f"Bearer {token}"} if token else {}

            def ready() -> bool:
                if server.poll() is not None:
                    raise RuntimeError(f"trackflow ui exited: {log.read_text()[-2000:]}")
                return httpx.get(f"{url}/api/experiments", headers=headers, timeout=5).status_code == 200

            until(ready, 120, f"trackflow ui answering on {url}")
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=20)
