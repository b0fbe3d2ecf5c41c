"""One run per Prefect run: race-free find-or-create, resumption by a re-execution, replayed values.

Against SQLite and PostgreSQL (``client``/``store_uri``): processes racing to create the run
of one Prefect task run end with one run; an execution finding a run made by an earlier
one resumes it as its record; a metric batch written twice is stored once.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from db_helpers import database
from sqlalchemy import event, text

from trackflow.exceptions import NotFoundError
from trackflow.tracking.client import Client
from trackflow.tracking.entities import RunStatus

RACERS = 4


def _race(uri: str, task_run_id: str, start_at: float, results) -> None:  # type: ignore[no-untyped-def]
    try:
        client = Client(uri)
        time.sleep(max(start_at - time.time(), 0))
        run, created = client.start_prefect_run(
            "race", kind="task", flow_run_id="fr", task_run_id=task_run_id, params={"x": 1}, tags={"t": "v"}
        )
        results.put((run.id, created, os.getpid()))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        results.put(repr(exc))


def test_processes_racing_to_create_one_task_run_end_with_one_run(client: Client) -> None:
    task_run_id = str(uuid.uuid4())
    client.get_or_create_experiment("race")  # the experiment exists: the race is on the run only
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    start_at = time.time() + 8  # after every process has imported trackflow and opened the store
    processes = [context.Process(target=_race, args=(client.tracking_uri, task_run_id, start_at, results)) for _ in range(RACERS)]
    for process in processes:
        process.start()
    answers = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert all(isinstance(a, tuple) for a in answers), answers
    assert len({run_id for run_id, _, _ in answers}) == 1
    assert sorted(created for _, created, _ in answers) == [False] * (RACERS - 1) + [True]
    with database(client) as conn:
        rows = conn.execute(text("SELECT id, attempts, pid FROM runs WHERE task_run_id = :t"), {"t": task_run_id}).all()
    assert len(rows) == 1 and rows[0].attempts == RACERS  # each later execution resumed it
    assert rows[0].pid in {pid for _, _, pid in answers}
    run = client.get_run(rows[0].id)
    assert run.params == {"x": "1"} and run.tags == {"t": "v"}


def test_a_run_left_running_is_resumed_with_its_values_replaced(client: Client) -> None:
    first, created = client.start_prefect_run("exp", kind="task", flow_run_id="fr", task_run_id="tr-1", params={"x": 3})
    assert created and first.pid == os.getpid() and first.attempts == 1
    client.log_batch(first.id, metrics=[("loss", 0.9, 0), ("loss", 0.8, 1)])  # then its worker dies

    again, created = client.start_prefect_run("other", kind="task", flow_run_id="fr", task_run_id="tr-1", params={"x": 3})
    assert not created and again.id == first.id
    assert again.experiment_name == "exp" and again.params == {"x": "3"}
    assert again.status is RunStatus.RUNNING and again.attempts == 2
    assert again.metrics == {} and client.get_metric_history(first.id, "loss") == []
    client.log_batch(first.id, metrics=[("loss", 0.7, 0), ("loss", 0.6, 1)])
    client.end_run(first.id, RunStatus.FINISHED)
    assert [m.value for m in client.get_metric_history(first.id, "loss")] == [0.7, 0.6]
    assert client.get_run(first.id).status is RunStatus.FINISHED


def test_an_ended_run_stays_whole_until_its_re_execution_ends(client: Client) -> None:
    first, _ = client.start_prefect_run("exp", kind="task", flow_run_id="fr", task_run_id="tr-2")
    client.log_batch(first.id, metrics=[("loss", 0.9, 0, 1_000), ("loss", 0.8, 1, 2_000)])
    client.end_run(first.id, RunStatus.FINISHED)

    again, created = client.start_prefect_run("exp", kind="task", flow_run_id="fr", task_run_id="tr-2")
    assert (again.id, created, again.attempts) == (first.id, False, 2)
    assert again.status is RunStatus.FINISHED and again.end_time is not None  # a cut-short recomputation loses nothing
    assert again.metrics == {"loss": 0.8}
    client.log_batch(first.id, metrics=[("loss", 0.5, 0, 5_000)])
    client.drop_metrics_before(first.id, 5_000)  # the re-execution ends: it is the record
    assert [(m.step, m.value) for m in client.get_metric_history(first.id, "loss")] == [(0, 0.5)]
    assert client.get_run(first.id).metrics == {"loss": 0.5}  # latest values computed again


def test_one_flow_kind_run_per_flow_run(client: Client) -> None:
    flow_run, created = client.start_prefect_run("exp", kind="flow", flow_run_id="fr-9")
    assert created
    child, created = client.start_prefect_run("exp", kind="task", flow_run_id="fr-9", task_run_id="tr-9",
                                              parent_run_id=flow_run.id)  # fmt: skip
    assert created and child.parent_run_id == flow_run.id
    again, created = client.start_prefect_run("exp", kind="flow", flow_run_id="fr-9")
    assert (again.id, created) == (flow_run.id, False)
    assert client.get_run_by_prefect_id("fr-9").id == flow_run.id


def test_a_replayed_metric_batch_adds_nothing(client: Client) -> None:
    run = client.create_run("exp")
    batch = [("loss", 0.5, 1, 1_700_000_000_000), ("gap", math.nan, 1, 1_700_000_000_000)]
    client.log_batch(run.id, metrics=batch)
    client.log_batch(run.id, metrics=batch)  # written again, as a retried flush would
    client.log_batch(run.id, metrics=[("loss", 0.4, 1, 1_700_000_000_000)])  # same millisecond, another value: kept
    assert sorted(m.value for m in client.get_metric_history(run.id, "loss")) == [0.4, 0.5]
    gaps = client.get_metric_history(run.id, "gap")
    assert len(gaps) == 1 and math.isnan(gaps[0].value)
    with database(client) as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM metrics WHERE run_id = :r"), {"r": run.id}).scalar_one() == 3


def test_a_workers_task_runs_check_their_flows_run_once(tmp_path: Path) -> None:
    """A worker process's task runs nest under one flow run made elsewhere: the first checks
    that it exists, the others do not read it again; an unknown parent is still refused.
    (Statements traced by SQLite itself: reads go through the driver, not SQLAlchemy events.)"""
    uri = f"sqlite:///{tmp_path / 'worker.db'}"
    made = subprocess.run(  # the flow's process
        [sys.executable, "-c", "import sys; from trackflow.tracking.client import Client; "
         "print(Client(sys.argv[1]).create_run('worker', run_name='the flow').id)", uri],
        capture_output=True, text=True, check=True,
    )
    flow_run_id = made.stdout.strip().splitlines()[-1]
    worker = Client(uri)  # this process: the flow run is not known here
    statements: list[str] = []
    engine = worker._store.engine
    event.listen(engine, "connect", lambda connection, record: connection.set_trace_callback(statements.append))
    engine.dispose()  # new connections, traced

    def start(parent: str) -> None:
        worker.start_prefect_run("worker", kind="task", flow_run_id="fr", task_run_id=str(uuid.uuid4()),
                                 parent_run_id=parent)

    def parent_reads() -> int:
        return sum(flow_run_id in statement and "FROM runs" in statement and "INSERT" not in statement
                   for statement in statements)

    start(flow_run_id)
    first = parent_reads()
    statements.clear()
    start(flow_run_id)
    start(flow_run_id)
    assert first >= 1 and parent_reads() == 0
    with pytest.raises(NotFoundError, match="does not exist"):
        start("0" * 32)
