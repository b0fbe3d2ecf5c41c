"""Many processes registering and promoting at once, on a SQLite file and on PostgreSQL.

Each process builds its own Client from the same TRACKFLOW_* environment (set by the
``store_uri`` fixture and inherited by the children). Spawned children import this module,
so it imports only what they need at the top.
"""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest

from trackflow.registry.entities import Stage
from trackflow.tracking.client import Client

PROCESSES = 8
PER_PROCESS = 10
TIMEOUT = 180
# spawn: fresh interpreters, as separate worker processes are. Forked children of the
# whole-suite pytest process (which has run servers, Dask clusters and Ray by then) exited
# with status 1 after reporting their results in CI; a fork of a fresh process passes.
START_METHOD = "spawn"


def _register_versions(source: str, count: int, barrier: Any, results: Any) -> None:
    from trackflow.tracking.client import Client

    registry = Client().registry
    barrier.wait()
    try:
        results.put([registry.create_version("race", source=source).version for _ in range(count)])
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails the test at once
        results.put(exc)


def _promote(version: int, barrier: Any, results: Any) -> None:
    from trackflow.tracking.client import Client

    registry = Client().registry
    barrier.wait()
    try:
        results.put(registry.transition("race", version, "production", reason=f"promote {version}").version)
    except Exception as exc:  # noqa: BLE001
        results.put(exc)


def _run_all(target: Any, args: list[tuple[Any, ...]]) -> list[Any]:
    ctx = multiprocessing.get_context(START_METHOD)
    barrier, results = ctx.Barrier(len(args)), ctx.Queue()
    processes = [ctx.Process(target=target, args=(*a, barrier, results)) for a in args]
    for process in processes:
        process.start()
    collected = [results.get(timeout=TIMEOUT) for _ in processes]
    for process in processes:
        process.join(TIMEOUT)
        assert process.exitcode == 0
    errors = [c for c in collected if isinstance(c, Exception)]
    assert not errors, f"{len(errors)} process(es) failed: {errors[0]!r}"
    return collected


@pytest.fixture
def logged_package(client: Client) -> str:
    """A tiny logged (not yet registered) package; returns its runs:/ source."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from trackflow.registry.loading import log_package

    frame = pd.DataFrame({"a": [0.0, 1.0, 0.2, 0.9], "b": [1.0, 0.0, 0.8, 0.1]})
    run = client.create_run("race")
    log_package(client, LogisticRegression().fit(frame, [0, 1, 0, 1]), run.id, "model", input_example=frame)
    return f"runs:/{run.id}/model"


def test_concurrent_registrations_get_unique_gapless_versions(client: Client, logged_package: str) -> None:
    batches = _run_all(_register_versions, [(logged_package, PER_PROCESS)] * PROCESSES)
    numbers = sorted(n for batch in batches for n in batch)
    assert numbers == list(range(1, PROCESSES * PER_PROCESS + 1))
    assert all(batch == sorted(batch) for batch in batches)
    stored = client.registry.list_versions("race")
    assert [v.version for v in stored] == numbers
    assert client.registry.get_model("race").latest_version == PROCESSES * PER_PROCESS
    assert len(client.registry.history("race")) == PROCESSES * PER_PROCESS


def test_concurrent_promotions_leave_one_production_version(client: Client, logged_package: str) -> None:
    registry = client.registry
    for _ in range(2):
        registry.create_version("race", source=logged_package)
    promoted = _run_all(_promote, [(1,), (2,)])
    assert sorted(promoted) == [1, 2]
    production = registry.list_versions("race", stage="production")
    assert len(production) == 1
    winner, loser = production[0].version, 3 - production[0].version
    assert registry.get_version("race", loser).stage is Stage.ARCHIVED
    moves = [(t.version, t.from_stage, t.to_stage) for t in registry.history("race") if t.from_stage is not None]
    assert moves == [
        (loser, Stage.DEVELOPMENT, Stage.PRODUCTION),
        (loser, Stage.PRODUCTION, Stage.ARCHIVED),
        (winner, Stage.DEVELOPMENT, Stage.PRODUCTION),
    ]
