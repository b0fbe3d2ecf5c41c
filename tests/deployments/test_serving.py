"""The model server over real HTTP: payload formats, 422s naming the column, following a promotion."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from cli_helpers import invoke

from trackflow.deployments.serving import ModelServer, create_app, parse_payload
from trackflow.exceptions import InvalidInputError
from trackflow.registry.client_deployments import ACTIVE, REPLACED, STOPPED

FEATURES = pd.DataFrame({"age": [31, 45, 27, 52], "income": [3.5, 7.25, 2.0, 9.5]})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _register(client: Any, name: str, constant: int) -> Any:
    """A classifier that always predicts ``constant`` (so versions are told apart by their answers)."""
    from sklearn.dummy import DummyClassifier

    model = DummyClassifier(strategy="constant", constant=constant).fit(FEATURES, [0, 1, 0, 1])
    return client.registry.register_model(model, name, input_example=FEATURES.head(2))


class LiveServer:
    """uvicorn in a thread on a free port of 127.0.0.1."""

    def __init__(self, server: ModelServer) -> None:
        import uvicorn

        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(server), host="127.0.0.1", port=self.port, log_level="warning")
        self.uvicorn = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.uvicorn.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.uvicorn.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "uvicorn did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.uvicorn.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def served(tracking_home: Path) -> Iterator[tuple[Any, LiveServer, ModelServer]]:
    import trackflow as tf

    client = tf.Client()
    first = _register(client, "churn-clf", 0)
    client.registry.transition("churn-clf", first.version, "production", reason="first model")
    server = ModelServer("models:/churn-clf@production", client=client, poll_interval=0.2,
                         target="http://127.0.0.1/test", record=True)
    with LiveServer(server) as live:
        yield client, live, server


def test_predicts_records_split_frames_and_reports_health(served: tuple[Any, LiveServer, ModelServer]) -> None:
    _, live, _ = served
    records = FEATURES.to_dict(orient="records")
    split = {"columns": ["age", "income"], "data": [[r["age"], r["income"]] for r in records]}
    with httpx.Client(base_url=live.url, timeout=10) as http:
        for body in (records, {"dataframe_records": records}, {"dataframe_split": split}):
            answer = http.post("/invocations", json=body)
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"predictions": [0, 0, 0, 0]}
        health = http.get("/health").json()
        assert health == {"status": "ok", "model": "churn-clf", "version": 1}
        meta = http.get("/metadata").json()
    assert (meta["name"], meta["version"], meta["stage"]) == ("churn-clf", 1, "production")
    assert [c["name"] for c in meta["signature"]["inputs"]] == ["age", "income"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ([{"age": 30}], "income"),  # missing column
        ([{"age": "old", "income": 1.0}], "age"),  # text in a numeric column
        ({"dataframe_split": {"columns": ["age", "income"], "data": [[1, 2.0, 3]]}}, "one per column"),
        ({"records": []}, "dataframe_records"),
        ("not a table", "list or object"),
    ],
)
def test_bad_payloads_get_422_naming_the_problem(
    served: tuple[Any, LiveServer, ModelServer], body: Any, expected: str
) -> None:
    _, live, _ = served
    answer = httpx.post(f"{live.url}/invocations", json=body, timeout=10)
    assert answer.status_code == 422
    payload = answer.json()
    assert payload["error_code"] == "INVALID_INPUT" and expected in payload["message"]


def test_malformed_json_is_a_422(served: tuple[Any, LiveServer, ModelServer]) -> None:
    _, live, _ = served
    answer = httpx.post(f"{live.url}/invocations", content=b"[{", headers={"content-type": "application/json"})
    assert answer.status_code == 422 and "not valid JSON" in answer.json()["message"]


def test_follows_a_promotion_without_failing_requests_in_flight(served: tuple[Any, LiveServer, ModelServer]) -> None:
    client, live, _ = served
    second = _register(client, "churn-clf", 1)
    statuses: list[int] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(base_url=live.url, timeout=10) as http:
            while not stop.is_set():
                statuses.append(http.post("/invocations", json={"dataframe_records": [{"age": 1, "income": 1.0}]})
                                .status_code)

    worker = threading.Thread(target=hammer)
    worker.start()
    try:
        client.registry.transition("churn-clf", second.version, "production", reason="better")
        deadline = time.monotonic() + 20
        while httpx.get(f"{live.url}/metadata").json()["version"] != second.version:
            assert time.monotonic() < deadline, "the server did not follow the promotion"
            time.sleep(0.1)
    finally:
        stop.set()
        worker.join()
    answer = httpx.post(f"{live.url}/invocations", json=[{"age": 3, "income": 0.5}])
    assert answer.json() == {"predictions": [1]}
    assert statuses and set(statuses) == {200}
    records = {d.version: d for d in client.registry.deployments("churn-clf")}
    assert records[1].status == REPLACED and records[1].until is not None
    assert records[2].status == ACTIVE and records[2].target == "http://127.0.0.1/test"


def test_stopping_marks_the_deployment_stopped_and_models_show_lists_it(
    served: tuple[Any, LiveServer, ModelServer], capsys: pytest.CaptureFixture[str]
) -> None:
    client, live, server = served
    code, out, _ = invoke(["models", "show", "churn-clf"], capsys)
    assert code == 0 and "http://127.0.0.1/test" in out and "active" in out
    live.__exit__()
    assert [d.status for d in client.registry.deployments("churn-clf")] == [STOPPED]
    # the poll has stopped: a promotion after the stop is not followed (5 poll intervals later)
    second = _register(client, "churn-clf", 1)
    client.registry.transition("churn-clf", second.version, "production", reason="after stop")
    time.sleep(5 * server.poll_interval)
    assert server.current.version is not None and server.current.version.version == 1
    assert [d.status for d in client.registry.deployments("churn-clf")] == [STOPPED]


def test_parse_payload_and_server_options_are_checked(tracking_home: Path) -> None:
    frame = parse_payload({"dataframe_split": {"columns": ["a"], "data": [[1], [2]]}})
    assert list(frame["a"]) == [1, 2]
    with pytest.raises(InvalidInputError, match="exactly one of"):
        parse_payload({"dataframe_records": [], "instances": []})
    with pytest.raises(InvalidInputError, match="poll_interval"):
        ModelServer("models:/m@production", poll_interval=0)
    with pytest.raises(InvalidInputError, match="Malformed model URI"):
        ModelServer("churn-clf")
