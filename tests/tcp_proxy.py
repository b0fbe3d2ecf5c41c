"""A TCP forwarder in its own process, to cut a test's database connection for real.

``TcpProxy(target_port=5432)`` runs this file as a subprocess listening on a free port
of 127.0.0.1 and forwarding every connection to ``127.0.0.1:<target_port>``;
:meth:`TcpProxy.kill` kills that process by PID (an outage: new connections are refused,
open ones drop) and :meth:`TcpProxy.start` starts it again on the same port.
Importable as ``from tcp_proxy import TcpProxy`` (see cli_helpers); run as a script with
``python tcp_proxy.py LISTEN_PORT TARGET_HOST TARGET_PORT``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from process_helpers import free_port

__all__ = ["TcpProxy", "free_port", "proxied_postgres", "through"]


def through(url: str, proxy: TcpProxy) -> str:
    """``url`` (a SQLAlchemy URL) pointing at ``proxy`` instead of the server it forwards to."""
    return url.replace(f"@{proxy.target_host}:{proxy.target_port}/", f"@127.0.0.1:{proxy.port}/", 1)


@contextlib.contextmanager
def proxied_postgres(tracking_home: Path, monkeypatch: Any) -> Iterator[TcpProxy]:
    """A fresh PostgreSQL schema reached through a started :class:`TcpProxy`: inside,
    ``TRACKFLOW_TRACKING_URI`` points at the proxy and the artifact root is in
    ``tracking_home``; the proxy, the stores and the schema are gone after."""
    from conftest import drop_pg_schema, make_pg_schema_url, pg_base_url
    from sqlalchemy.engine import make_url

    from trackflow.tracking.stores import close_stores

    from ci_gate import unavailable

    if pg_base_url() is None:
        unavailable("the outage tests need PostgreSQL (TRACKFLOW_TEST_DATABASE_URL)")
    url, schema = make_pg_schema_url()
    parsed = make_url(url)
    forwarder = TcpProxy(target_port=parsed.port or 5432, target_host=parsed.host or "127.0.0.1")
    forwarder.start()
    monkeypatch.setenv("TRACKFLOW_TRACKING_URI", through(url, forwarder))
    monkeypatch.setenv("TRACKFLOW_ARTIFACT_ROOT", str(tracking_home / "artifacts"))
    try:
        yield forwarder
    finally:
        forwarder.kill()
        close_stores()
        drop_pg_schema(schema)


class TcpProxy:
    """A forwarder subprocess from ``127.0.0.1:port`` to ``target_host:target_port``."""

    def __init__(self, target_port: int, *, target_host: str = "127.0.0.1") -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        """Start the forwarder and wait until it accepts connections."""
        args = [sys.executable, __file__, str(self.port), self.target_host, str(self.target_port)]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE)
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        line = self.process.stdout.readline()  # "ready" once listening
        while line.strip() != b"ready":
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the TCP proxy did not start on port {self.port}")
            time.sleep(0.1)
            line = self.process.stdout.readline()

    def kill(self) -> None:
        """Kill the forwarder by PID: an outage (its connections drop)."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None

    def __enter__(self) -> TcpProxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def _serve(port: int, host: str, target_port: int) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(host, target_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", port, reuse_address=True)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(_serve(int(sys.argv[1]), sys.argv[2], int(sys.argv[3])))
