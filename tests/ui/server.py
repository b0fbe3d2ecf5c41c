"""``trackflow ui`` as a real subprocess on a free loopback port (for the browser tests)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from process_helpers import free_port, server_process

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
    with server_process(command, ready_url=f"{url}/api/experiments", env=child_env, log=log, timeout=120):
        yield url
