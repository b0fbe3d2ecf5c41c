"""Concurrent writers lose nothing: processes and threads into one SQLite file."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from trackflow.tracking.client import Client
from trackflow.tracking.entities import RunStatus

PER_WRITER = 500


def _log_from_process(uri: str, run_id: str, writer: int, errors) -> None:  # type: ignore[no-untyped-def]
    os.environ["TRACKFLOW_TRACKING_URI"] = uri
    try:
        client = Client()
        for step in range(PER_WRITER):
            client.log_metric(run_id, f"proc{writer}", float(step), step=step)
        client.flush()
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        errors.put(repr(exc))


def _count(uri: str, run_id: str) -> int:
    engine = create_engine(uri)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM metrics WHERE run_id = :r"), {"r": run_id}).scalar_one()
    engine.dispose()
    return int(count)


def test_processes_and_threads_into_one_sqlite_file(tracking_home: Path) -> None:
    client = Client()
    uri = client.tracking_uri
    run = client.create_run("concurrency")
    context = multiprocessing.get_context("spawn")
    errors = context.Queue()
    processes = [context.Process(target=_log_from_process, args=(uri, run.id, i, errors)) for i in range(8)]
    for process in processes:
        process.start()
    thread_errors: list[BaseException] = []

    def log_from_thread(writer: int) -> None:
        try:
            for step in range(PER_WRITER):
                client.log_metric(run.id, f"thread{writer}", float(step), step=step)
        except BaseException as exc:  # noqa: BLE001
            thread_errors.append(exc)

    threads = [threading.Thread(target=log_from_thread, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for process in processes:
        process.join(timeout=300)
        assert process.exitcode == 0
    client.end_run(run.id)
    reported = []
    while not errors.empty():
        reported.append(errors.get())
    assert reported == [] and thread_errors == []
    assert _count(uri, run.id) == 12 * PER_WRITER
    metrics = client.get_run(run.id).metrics
    assert all(metrics[f"proc{i}"] == PER_WRITER - 1 for i in range(8))
    assert all(metrics[f"thread{i}"] == PER_WRITER - 1 for i in range(4))


OPEN_SCRIPT = """
import sys
from trackflow.tracking.client import Client
client = Client()
run = client.create_run("fresh")
client.log_metric(run.id, "m", 1.0)
client.end_run(run.id)
print(run.id)
"""


def test_ten_processes_open_a_fresh_database_at_once(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'fresh.db'}"
    env = {**os.environ, "TRACKFLOW_TRACKING_URI": uri, "TRACKFLOW_HOME": str(tmp_path)}
    procs = [
        subprocess.Popen([sys.executable, "-c", OPEN_SCRIPT], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(10)
    ]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * 10, [err for _, err in results]
    engine = create_engine(uri)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM runs")).scalar_one() == 10
        assert conn.execute(text("SELECT count(*) FROM experiments")).scalar_one() == 1
    engine.dispose()


EXIT_SCRIPT = """
import trackflow as tf
run = tf.start_run(experiment="exit")
for i in range(250):
    tf.log_metric("m", float(i), step=i)
tf.log_param("p", 1)
print(run.id)
"""


def test_buffered_values_survive_interpreter_exit(tmp_path: Path) -> None:
    """A run left open at exit is ended FINISHED and its queued values are written."""
    env = {**os.environ, "TRACKFLOW_HOME": str(tmp_path)}
    env.pop("TRACKFLOW_TRACKING_URI", None)
    env.pop("TRACKFLOW_ARTIFACT_ROOT", None)
    out = subprocess.run([sys.executable, "-c", EXIT_SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    run_id = out.stdout.strip()
    uri = f"sqlite:///{tmp_path / 'trackflow.db'}"
    assert _count(uri, run_id) == 250
    engine = create_engine(uri)
    with engine.connect() as conn:
        status = conn.execute(text("SELECT status FROM runs WHERE id = :r"), {"r": run_id}).scalar_one()
        params = conn.execute(text("SELECT count(*) FROM params WHERE run_id = :r"), {"r": run_id}).scalar_one()
    engine.dispose()
    assert status == "FINISHED" and params == 1


def test_size_threshold_flushes_without_waiting_for_run_end(store_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``flush_size`` queued values are written by the background writer at once: another
    connection sees them while the run is still running, long before the flush interval."""
    from trackflow.tracking.stores import close_stores

    close_stores()
    flush_size = 7
    monkeypatch.setenv("TRACKFLOW_METRIC_FLUSH_SIZE", str(flush_size))
    monkeypatch.setenv("TRACKFLOW_METRIC_FLUSH_INTERVAL", "3600")  # the timer never fires here
    client = Client()
    run = client.create_run("bg")
    started = time.monotonic()
    for i in range(flush_size - 1):
        client.log_metric(run.id, "m", float(i), step=i)
    time.sleep(0.3)
    assert _count(store_uri, run.id) == 0, "values below flush_size must wait (no write per call)"
    client.log_metric(run.id, "m", float(flush_size - 1), step=flush_size - 1)
    deadline = time.monotonic() + 30
    while (written := _count(store_uri, run.id)) < flush_size and time.monotonic() < deadline:
        time.sleep(0.05)
    assert written == flush_size, f"{written} of {flush_size} values written: the size trigger did not flush"
    assert time.monotonic() - started < 3600
    assert client.get_run(run.id).status == RunStatus.RUNNING
