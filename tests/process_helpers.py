"""Real servers as subprocesses on 127.0.0.1 (a Prefect server, an S3-compatible server), for tests.

Importable as ``from process_helpers import free_port, server_process`` from every test folder
(``tests/`` is on ``sys.path``, see cli_helpers). Each server gets a free port, its output
goes to a log file (never a pipe a busy server could block on), readiness is polled over
HTTP with a generous timeout (two busy cores), and the process group is killed by PID at the
end, whatever the test did.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

__all__ = ["free_port", "server_process", "background_process", "stop", "run_command"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(log: Path, size: int = 3000) -> str:
    return log.read_text(errors="replace")[-size:] if log.exists() else ""


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code < 500
    except httpx.HTTPError:
        return False


def _start(command: Sequence[str], env: Mapping[str, str], log: Path, cwd: Path | None) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:  # its own session: stop() reaches its children too
        return subprocess.Popen(list(command), env=dict(env), stdout=sink, stderr=subprocess.STDOUT, cwd=cwd,
                                start_new_session=True)


@contextmanager
def server_process(
    command: Sequence[str], *, ready_url: str, env: Mapping[str, str], log: Path, timeout: float = 240.0,
    cwd: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``command``; yield once ``ready_url`` answers below 500; kill its process group after."""
    process = _start(command, env, log, cwd)
    try:
        started = time.monotonic()
        while not _ready(ready_url):
            if process.poll() is not None:
                raise AssertionError(f"{list(command)[:4]} exited with {process.returncode}:\n{_tail(log)}")
            if time.monotonic() - started > timeout:
                raise AssertionError(f"{ready_url} did not answer within {timeout:g} s:\n{_tail(log)}")
            time.sleep(0.5)
        yield process
    finally:
        stop(process)


@contextmanager
def background_process(
    command: Sequence[str], *, env: Mapping[str, str], log: Path, cwd: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a long-running ``command`` (no readiness check); kill its process group after."""
    process = _start(command, env, log, cwd)
    try:
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate ``process`` and its children (its own session), killing them after 20 s."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)
    except ProcessLookupError:
        pass


def run_command(
    command: Sequence[str], *, env: Mapping[str, str], log: Path, timeout: float = 300.0, cwd: Path | None = None,
    attempts: int = 1, retry_on: str | None = None,
) -> str:
    """Run ``command`` to completion (killed after ``timeout`` s); its output, or AssertionError with it.

    ``retry_on``: text of a transient failure (a busy SQLite database) worth up to ``attempts`` tries.
    """
    output = ""
    for attempt in range(attempts):
        process = _start(command, env, log, cwd)
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop(process)
            raise AssertionError(f"{list(command)[:5]} did not finish within {timeout:g} s:\n{_tail(log)}") from None
        output = log.read_text(errors="replace")
        if code == 0:
            return output
        if retry_on is None or retry_on not in output or attempt == attempts - 1:
            break
        time.sleep(2 + 2 * attempt)
    raise AssertionError(f"{list(command)} failed:\n{output[-4000:]}")
