"""The model server's limits and token: 413 before the body is read, 4xx for every malformed
payload (never a 500), --max-rows, timeouts, Bearer tokens and the warning for an exposed bind.

Unit cases use the app with TestClient or the ASGI guard alone; the size limit, the token and
the warning are also checked on a real ``trackflow serve`` process on a free port of 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from trackflow.deployments.serving import ModelServer, create_app, exposure_warning
from trackflow.deployments.serving_guard import RequestGuard, is_loopback
from trackflow.exceptions import InvalidInputError

FEATURES = pd.DataFrame({"age": [31, 45, 27, 52], "income": [3.5, 7.25, 2.0, 9.5]})
MIB = 1024 * 1024
TOKEN = "s3cret-token"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _register(client: Any, name: str = "churn-clf") -> None:
    from sklearn.dummy import DummyClassifier

    model = DummyClassifier(strategy="constant", constant=0).fit(FEATURES, [0, 1, 0, 1])
    version = client.registry.register_model(model, name, input_example=FEATURES.head(2))
    client.registry.transition(name, version.version, "production", reason="test")


@pytest.fixture
def server(tracking_home: Path) -> ModelServer:
    import trackflow as tf

    client = tf.Client()
    _register(client)
    return ModelServer("models:/churn-clf@production", client=client)


def _test_client(server: ModelServer, **limits: Any) -> Any:
    from fastapi.testclient import TestClient

    return TestClient(create_app(server, poll=False, **limits), raise_server_exceptions=False)


# ---- malformed payloads: a 4xx naming the problem, never a 500 ---------------------------------

SPLIT = {"columns": ["age", "income"], "data": [[1, 2.0], [3, 4.0]]}


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        # the three payloads of the issue that got a 500
        (json.dumps({"dataframe_split": {**SPLIT, "index": [0]}}), 422, "index has 1 labels but data has 2 rows"),
        (json.dumps({"dataframe_split": {**SPLIT, "index": "zz"}}), 422, "index must be a list"),
        (json.dumps([{"age": 10**400, "income": 1.0}]), 422, "out of range"),
        # more of the same kind
        (json.dumps({"dataframe_split": {"columns": ["age", "income"], "data": [[10**400, 1.0]]}}), 422,
         "out of range"),
        ('[{"age": 1e400, "income": 1.0}]', 422, "out of range for a 64-bit float"),
        (json.dumps([{"age": 2**63, "income": 1.0}]), 422, "integers must fit in 64 bits"),
        ('[{"age": 1' + "0" * 5000 + ', "income": 1}]', 422, "out of range"),
        (json.dumps({"dataframe_split": {**SPLIT, "index": [[1], [2]]}}), 422, "index labels"),
        ("[" * 100_000 + "]" * 100_000, 422, "nested too deeply"),
        (b'[{"age": "\xff", "income": 1}]', 422, "not valid JSON"),
        (b"", 422, "empty"),
        (b"[{", 422, "not valid JSON"),
        (json.dumps([{"age": {"x": 1}, "income": 1}]), 422, "age"),
        (json.dumps({"dataframe_split": {"columns": ["age", "age"], "data": [[1, 2]]}}), 422, "duplicate"),
        (json.dumps([1, 2]), 422, "records"),
        (json.dumps({"inputs": []}), 422, "no rows"),
        ("null", 422, "list or object"),
    ],
    ids=["issue-index-length", "issue-index-zz", "issue-10**400", "split-10**400", "1e400", "2**63", "5000-digits",
         "index-nested", "nested-json", "not-utf8", "empty", "truncated", "dict-value", "duplicate-columns",
         "numbers", "no-rows", "null"],
)
def test_malformed_payloads_are_4xx_naming_the_problem(
    server: ModelServer, body: str | bytes, status: int, expected: str
) -> None:
    with _test_client(server) as http:
        answer = http.post("/invocations", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == status, answer.text
    assert answer.json()["error_code"] == "INVALID_INPUT" and expected in answer.json()["message"]


def test_max_rows_is_a_413_naming_the_limit(server: ModelServer) -> None:
    with _test_client(server, max_rows=3) as http:
        for body in ([{"age": 1, "income": 1.0}] * 4, {"dataframe_records": [{"age": 1, "income": 1.0}] * 4},
                     {"dataframe_split": {"columns": ["age", "income"], "data": [[1, 1.0]] * 4}},
                     {"inputs": {"age": [1] * 4, "income": [1.0] * 4}}):
            answer = http.post("/invocations", json=body)
            assert answer.status_code == 413, answer.text
            assert answer.json()["error_code"] == "TOO_MANY_ROWS" and "at most 3 rows" in answer.json()["message"]
        assert http.post("/invocations", json=[{"age": 1, "income": 1.0}] * 3).status_code == 200


def test_a_declared_body_over_the_limit_is_a_413(server: ModelServer) -> None:
    with _test_client(server, max_body_bytes=1000) as http:
        answer = http.post("/invocations", content=b"[" + b" " * 2000 + b"]")
        assert answer.status_code == 413 and "at most 1000 bytes" in answer.json()["message"]
        assert http.post("/invocations", json=[{"age": 1, "income": 1.0}]).status_code == 200


def test_a_slow_prediction_is_a_503_after_the_timeout(server: ModelServer, monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(payload: Any, **kwargs: Any) -> Any:
        time.sleep(1.5)
        return {"predictions": []}

    monkeypatch.setattr(server, "predict", slow)
    with _test_client(server, timeout=0.3) as http:
        started = time.monotonic()
        answer = http.post("/invocations", json=[{"age": 1, "income": 1.0}])
    assert answer.status_code == 503 and answer.json()["error_code"] == "TIMEOUT"
    assert "0.3 s" in answer.json()["message"] and time.monotonic() - started < 1.4


def test_limits_and_token_are_checked(server: ModelServer) -> None:
    for limits, expected in [({"max_body_bytes": 0}, "max_body_bytes"), ({"max_rows": 0}, "max_rows"),
                             ({"timeout": -1}, "timeout"), ({"token": ""}, "token"), ({"token": " x"}, "token")]:
        with pytest.raises(InvalidInputError, match=expected):
            create_app(server, poll=False, **limits)


# ---- the token ---------------------------------------------------------------------------------


def test_token_is_required_on_invocations_and_metadata_but_not_health(server: ModelServer) -> None:
    body = [{"age": 1, "income": 1.0}]
    with _test_client(server, token=TOKEN) as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                        {"Authorization": "Bearer"}):
            answer = http.post("/invocations", json=body, headers=headers)
            assert answer.status_code == 401 and answer.json()["error_code"] == "UNAUTHORIZED"
            assert answer.headers["www-authenticate"].startswith("Bearer")
            assert http.get("/metadata", headers=headers).status_code == 401
        good = {"Authorization": f"Bearer {TOKEN}"}
        assert http.post("/invocations", json=body, headers=good).json() == {"predictions": [0]}
        assert http.get("/metadata", headers=good).status_code == 200
        assert http.get("/health").status_code == 200 and http.get("/ping").status_code == 200


# ---- the guard alone: nothing past the limit is pulled from receive() --------------------------


def _run_guard(guard_limit: int, headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> tuple[int, int, bool]:
    """(status, chunks pulled from receive, whether the app was called) for one request."""
    pulled = 0
    called = False
    status = 0

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal called
        called = True

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": chunks[pulled - 1], "more_body": pulled < len(chunks)}

    async def send(message: Any) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {"type": "http", "method": "POST", "path": "/invocations", "headers": headers}
    asyncio.run(RequestGuard(app, max_body_bytes=guard_limit)(scope, receive, send))
    return status, pulled, called


def test_guard_answers_413_without_reading_past_the_limit() -> None:
    chunks = [b"x" * 100] * 50
    assert _run_guard(1000, [(b"content-length", b"5000")], chunks) == (413, 0, False)  # declared: nothing read
    assert _run_guard(1000, [], chunks) == (413, 11, False)  # chunked: stops at the chunk passing the limit
    assert _run_guard(10_000, [], chunks) == (0, 50, True)  # within the limit: the app gets it


def test_loopback_and_the_exposure_warning() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.5", "example.com", ""))
    assert exposure_warning("127.0.0.1", None) is None and exposure_warning("0.0.0.0", TOKEN) is None
    assert "without a token" in (exposure_warning("0.0.0.0", None) or "")


# ---- a real `trackflow serve` process ----------------------------------------------------------


class ServeProcess:
    """``trackflow serve`` in a subprocess; its stderr goes to a file."""

    def __init__(self, tmp_path: Path, *args: str, host: str = "127.0.0.1", env: dict[str, str] | None = None) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stderr_path = tmp_path / f"serve-{self.port}.err"
        command = [sys.executable, "-m", "trackflow.cli.main", "serve", "models:/churn-clf@production",
                   "--host", host, "--port", str(self.port), "--no-record", "--poll-interval", "60", *args]
        with open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(command, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
                                            stderr=err)
        deadline = time.monotonic() + 120
        while True:
            assert self.process.poll() is None, f"trackflow serve exited: {self.stderr()}"
            assert time.monotonic() < deadline, f"trackflow serve did not start: {self.stderr()}"
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def memory(self) -> tuple[int, int]:
        """(VmRSS, VmHWM) of the server in bytes."""
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines())
        return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)


@pytest.fixture
def registered(tracking_home: Path) -> Iterator[Path]:
    import trackflow as tf

    _register(tf.Client())
    yield tracking_home


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the server's RSS from /proc")
def test_a_64_mib_body_is_a_413_and_the_server_does_not_grow(registered: Path, tmp_path: Path) -> None:
    """Also: bound to 0.0.0.0 without a token, the CLI warns on stderr (the test connects to 127.0.0.1)."""
    live = ServeProcess(tmp_path, host="0.0.0.0")
    try:
        assert "WARNING" in live.stderr() and "0.0.0.0 without a token" in live.stderr()
        rss_before, peak_before = live.memory()
        body = b"[" + b" " * (64 * MIB - 2) + b"]"
        with httpx.Client(base_url=live.url, timeout=120) as http:
            declared = http.post("/invocations", content=body, headers={"content-type": "application/json"})
            assert declared.status_code == 413 and "at most 16777216 bytes" in declared.json()["message"]

            def chunks() -> Iterator[bytes]:  # no Content-Length: Transfer-Encoding: chunked
                for start in range(0, len(body), MIB):
                    yield body[start:start + MIB]

            chunked = http.post("/invocations", content=chunks())
            assert chunked.request.headers.get("transfer-encoding") == "chunked"
            assert chunked.status_code == 413 and chunked.json()["error_code"] == "PAYLOAD_TOO_LARGE"
            assert http.post("/invocations", json=[{"age": 1, "income": 1.0}]).status_code == 200
        rss_after, peak_after = live.memory()
        assert rss_after - rss_before < 100 * MIB, (rss_before, rss_after)
        assert peak_after - peak_before < 100 * MIB, (peak_before, peak_after)

        # the 413 comes before the body: only the headers are sent, and the answer arrives
        with socket.create_connection(("127.0.0.1", live.port), timeout=10) as sock:
            sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 67108864\r\n\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 413")
    finally:
        live.stop()


def test_serve_token_from_the_environment_max_rows_and_body_timeout(registered: Path, tmp_path: Path) -> None:
    live = ServeProcess(tmp_path, "--max-rows", "2", "--timeout", "1", env={"TRACKFLOW_SERVE_TOKEN": TOKEN})
    try:
        assert "WARNING" not in live.stderr()
        body = [{"age": 1, "income": 1.0}]
        good = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=live.url, timeout=30) as http:
            assert http.post("/invocations", json=body).status_code == 401
            assert http.post("/invocations", json=body, headers={"Authorization": "Bearer nope"}).status_code == 401
            assert http.get("/metadata").status_code == 401
            assert http.get("/health").status_code == 200
            assert http.post("/invocations", json=body, headers=good).json() == {"predictions": [0]}
            assert http.get("/metadata", headers=good).json()["name"] == "churn-clf"
            too_many = http.post("/invocations", json=body * 3, headers=good)
            assert too_many.status_code == 413 and "at most 2 rows" in too_many.json()["message"]
            issue = http.post("/invocations", headers=good, json={"dataframe_split": {**SPLIT, "index": "zz"}})
            assert issue.status_code == 422 and "index" in issue.json()["message"]
        # a body that never arrives is a 408 after --timeout
        with socket.create_connection(("127.0.0.1", live.port), timeout=10) as sock:
            sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode()
                         + b"\r\nContent-Length: 100\r\n\r\n[{")
            started = time.monotonic()
            assert sock.recv(4096).startswith(b"HTTP/1.1 408")
            assert time.monotonic() - started < 5
    finally:
        live.stop()
