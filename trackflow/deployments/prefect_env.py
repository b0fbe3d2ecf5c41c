"""Getting a Prefect API for commands that run flows (``quickstart``, ``run``, ``rerun``, ``deploy``).

With no ``PREFECT_API_URL`` Prefect starts a temporary ("ephemeral") server in a
subprocess on first use, and gives up after ``PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS``
(20 s by default), which a fresh machine with a fresh ``PREFECT_HOME`` on two busy cores can
exceed (the first start creates and migrates Prefect's database). These commands raise the
timeout to 180 s unless the user set it, turn Prefect's analytics off unless the user set
``PREFECT_SERVER_ANALYTICS_ENABLED``, and start the server up front so the user is told
what the wait is. Its data lives in ``PREFECT_HOME`` (``~/.prefect``), so ``prefect server
start`` shows the same runs afterwards.

The temporary server does not run Prefect's scheduler service, so scheduled deployments
need a real server: :func:`scheduling_server` (used by ``trackflow deploy --serve`` when no
``PREFECT_API_URL`` is set) uses the one on 127.0.0.1:4200 or starts ``prefect server
start`` there for as long as the command runs, dashboard included.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from trackflow.exceptions import TrackflowError

__all__ = ["STARTUP_TIMEOUT_ENV", "ANALYTICS_ENV", "DEFAULT_STARTUP_TIMEOUT", "PrefectApi", "prefect_defaults",
           "ensure_api", "scheduling_server"]

STARTUP_TIMEOUT_ENV = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
ANALYTICS_ENV = "PREFECT_SERVER_ANALYTICS_ENABLED"
LOGGING_ENV = "PREFECT_LOGGING_LEVEL"
DEFAULT_STARTUP_TIMEOUT = 180
DASHBOARD_URL = "http://127.0.0.1:4200"


@dataclass(frozen=True)
class PrefectApi:
    """Which Prefect API the command uses and where its dashboard is."""

    url: str
    ephemeral: bool
    dashboard: str
    startup_seconds: float | None = None


@contextmanager
def prefect_defaults(*, quiet_logs: bool = False) -> Iterator[dict[str, str]]:
    """Apply trackflow's defaults for the Prefect settings the user did not set, for a block.

    Yields what was set. Prefect reads its settings when it is first imported, so the
    values go into the environment (for that import and for subprocesses) and, when
    Prefect is imported already, into its current settings too.
    """
    defaults = {STARTUP_TIMEOUT_ENV: str(DEFAULT_STARTUP_TIMEOUT), ANALYTICS_ENV: "false"}
    if quiet_logs:
        defaults[LOGGING_ENV] = "WARNING"
    applied = {k: v for k, v in defaults.items() if k not in os.environ}
    os.environ.update(applied)
    try:
        if applied and "prefect.context" in sys.modules:
            import prefect.settings as ps
            from prefect.settings import temporary_settings

            updates = {getattr(ps, k): v for k, v in applied.items() if hasattr(ps, k)}
            with temporary_settings(updates=updates):
                yield applied
        else:
            yield applied
    finally:
        for key in applied:
            os.environ.pop(key, None)


def ensure_api(echo: Callable[[str], None]) -> PrefectApi:
    """The Prefect API to use; starts the temporary server (telling the user) when there is none."""
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_SERVER_EPHEMERAL_ENABLED,
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
        PREFECT_UI_URL,
    )

    url = PREFECT_API_URL.value()
    if url:
        dashboard = PREFECT_UI_URL.value() or url.removesuffix("/api")
        return PrefectApi(url=url, ephemeral=False, dashboard=dashboard)
    if not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        raise TrackflowError(
            "No Prefect API: PREFECT_API_URL is not set and temporary servers are disabled.",
            hint="Run `prefect server start` and set PREFECT_API_URL=http://127.0.0.1:4200/api.",
        )
    from prefect.server.api.server import SubprocessASGIServer

    timeout = int(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())
    server = SubprocessASGIServer()
    started = time.monotonic()
    if not server.running:
        echo(f"Starting a temporary Prefect server (first start can take ~30 s, waiting up to {timeout} s)...")
    try:
        server.start(timeout=timeout)
    except RuntimeError as exc:
        raise TrackflowError(
            f"The temporary Prefect server did not start within {timeout} s: {str(exc)[:300]}",
            hint=f"Set {STARTUP_TIMEOUT_ENV}=600, or run `prefect server start` in another terminal and set "
            "PREFECT_API_URL=http://127.0.0.1:4200/api.",
        ) from None
    elapsed = time.monotonic() - started
    return PrefectApi(url=server.api_url, ephemeral=True, dashboard=DASHBOARD_URL, startup_seconds=elapsed)


def _healthy(url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def scheduling_server(
    echo: Callable[[str], None], *, host: str = "127.0.0.1", port: int = 4200
) -> Iterator[PrefectApi]:
    """A Prefect server that runs the scheduler: the configured API, the one on ``host:port``,
    or ``prefect server start`` started here (and stopped when the block ends)."""
    import subprocess

    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, temporary_settings

    configured = PREFECT_API_URL.value()
    if configured:
        yield ensure_api(echo)
        return
    dashboard = f"http://{host}:{port}"
    url = f"{dashboard}/api"
    process = None
    if _healthy(url):
        echo(f"Using the Prefect server at {dashboard}.")
    else:
        timeout = int(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())
        echo(f"Starting a Prefect server on {dashboard} (with its scheduler and dashboard; up to {timeout} s)...")
        command = [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)]
        log = Path(tempfile.gettempdir()) / f"trackflow-prefect-server-{port}.log"
        with log.open("wb") as sink:  # a file, not a pipe: a long-running server must never block on output
            # its own session: Ctrl-C reaches the runner, which shuts down while the server still answers
            process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
        started = time.monotonic()
        while not _healthy(url):
            if process.poll() is not None or time.monotonic() - started > timeout:
                process.kill()
                tail = log.read_text(errors="replace")[-500:] or "timed out"
                raise TrackflowError(f"The Prefect server on {dashboard} did not start: {tail}",
                                     hint=f"See {log}; or run `prefect server start` yourself and set PREFECT_API_URL.")
            time.sleep(0.5)
        echo(f"Prefect server ready ({time.monotonic() - started:.0f} s); dashboard at {dashboard}.")
    previous = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = url  # for the flow-run subprocesses
    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield PrefectApi(url=url, ephemeral=False, dashboard=dashboard)
    finally:
        if previous is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = previous
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
