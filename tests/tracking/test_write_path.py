"""The driver-level write path of a flush (``store/sql.py`` driver_insert / driver_update /
driver_rows) and the SQLite tuning, on SQLite and PostgreSQL: what Core used to do for
these statements (Python-side column defaults, quoting of keywords, booleans, error kinds)
still holds."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from trackflow.exceptions import StoreError
from trackflow.tracking.client import Client
from trackflow.tracking.entities import RunStatus
from trackflow.tracking.store.sqlalchemy_store import SqlAlchemyStore


def _count(client: Client, sql: str, **params: object) -> int:
    engine = create_engine(client.tracking_uri)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(sql), params).scalar_one())
    finally:
        engine.dispose()


def test_many_values_with_nan_and_replays_are_stored_once(client: Client) -> None:
    # 250 values: two full multi-row statements and an executemany remainder; NaN and inf
    # among them; writing the same batch again adds nothing (uq_metrics_* of migration 0005)
    run = client.create_run("write-path")
    records = [(run.id, f"k{i % 3}", math.nan if i % 50 == 7 else float(i), i // 3, 1_700_000_000_000 + i) for i in range(250)]
    records.append((run.id, "inf", math.inf, 0, 1_700_000_000_000))
    for _ in range(2):
        with client._store.transaction() as tx:  # noqa: SLF001 - the store's write path itself
            tx.log_metrics(records)
    assert _count(client, "SELECT COUNT(*) FROM metrics WHERE run_id = :r", r=run.id) == 251
    assert _count(client, "SELECT COUNT(*) FROM metrics WHERE run_id = :r AND is_nan = true", r=run.id) == 5
    stored = client.get_run(run.id)
    assert stored.metrics["k0"] == 249.0 and stored.metrics["k1"] == 247.0 and stored.metrics["k2"] == 248.0
    assert stored.metrics["inf"] == math.inf
    history = client.get_metric_history(run.id, "k1")
    assert len(history) == 83 and math.isnan(history[2].value)


def test_latest_value_keeps_the_highest_step_across_batches(client: Client) -> None:
    run = client.create_run("write-path")
    client.log_metric(run.id, "loss", 0.5, step=10)
    client.flush()
    client.log_metric(run.id, "loss", 0.9, step=3)  # an older step logged later: history only
    client.flush()
    assert client.get_run(run.id).metrics["loss"] == 0.5
    client.log_metric(run.id, "loss", 0.1, step=10)  # the same step logged later wins
    client.flush()
    assert client.get_run(run.id).metrics["loss"] == 0.1
    assert len(client.get_metric_history(run.id, "loss")) == 3


def test_run_rows_get_column_defaults_and_keyword_columns(client: Client) -> None:
    # a queued run row without kind / attempts (as an older spool record has it) gets the
    # ORM's defaults; "user" is a reserved word in PostgreSQL
    experiment = client.get_or_create_experiment("write-path")
    run_id = "ab" * 16
    row = {"id": run_id, "experiment_id": experiment.id, "name": "bare", "status": "RUNNING", "start_time": 1,
           "user": "alice", "source_dirty": True}  # fmt: skip
    with client._store.transaction() as tx:  # noqa: SLF001
        tx.create_runs([row])
        assert tx.update_run(run_id, {"status": "FINISHED", "end_time": 2, "error": None}) is True
        assert tx.update_run("cd" * 16, {"status": "FINISHED"}) is False
    run = client.get_run(run_id)
    assert (run.kind, run.attempts, run.user, run.status) == ("manual", 1, "alice", RunStatus.FINISHED)
    assert run.source_dirty is True and run.end_time is not None


def test_read_runs_types_and_order(client: Client) -> None:
    first = client.create_run("write-path", params={"a": 1}, tags={"t": "x"})
    client.log_metric(first.id, "m", 2.0)
    second = client.create_run("write-path")
    client.flush()
    runs = client.get_runs([second.id, "ef" * 16, first.id])
    assert [r.id for r in runs] == [second.id, first.id]
    assert runs[1].params == {"a": "1"} and runs[1].tags == {"t": "x"} and runs[1].metrics == {"m": 2.0}
    assert runs[0].experiment_name == "write-path" and isinstance(runs[0].source_dirty, (bool, type(None)))


def test_tags_set_again_take_the_new_value(client: Client) -> None:
    run = client.create_run("write-path", tags={"stage": "a"})
    client.set_tags(run.id, {"stage": "b", "other": "c"})
    client.flush()
    assert client.get_run(run.id).tags == {"other": "c", "stage": "b"}


def test_locked_sqlite_is_a_store_error_and_values_stay_queued(tmp_path: Path) -> None:
    # BEGIN IMMEDIATE goes straight to the driver: "database is locked" must still be a
    # StoreError (the buffer keeps the values and retries), never a raw sqlite3 error
    db = tmp_path / "locked.db"
    store = SqlAlchemyStore(f"sqlite:///{db}", busy_timeout=0.2)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match="locked"), store.transaction() as tx:
            tx.get_or_create_experiment("x")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with store.transaction() as tx:
        assert tx.get_or_create_experiment("x").name == "x"
    store.dispose()


def test_sqlite_connections_are_tuned(tmp_path: Path) -> None:
    store = SqlAlchemyStore(f"sqlite:///{tmp_path / 'tuned.db'}")
    with store.engine.connect() as connection:
        pragmas = {
            name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "wal_autocheckpoint", "foreign_keys")
        }
    store.dispose()
    assert pragmas == {"journal_mode": "wal", "synchronous": 1, "wal_autocheckpoint": 10_000, "foreign_keys": 1}


def test_writer_thread_starts_with_the_run(store_uri: str) -> None:
    # the first log_metric of a run does not wait for a thread to start: a run created by
    # this process starts the buffer's writer
    client = Client()
    client.get_or_create_experiment("write-path")
    buffer = client._buffer  # noqa: SLF001 - the write buffer under test
    assert buffer._thread is None  # noqa: SLF001
    run = client.create_run("write-path")
    assert buffer._thread is not None and buffer._thread.is_alive()  # noqa: SLF001
    client.log_metric(run.id, "m", 1.0)
    client.end_run(run.id)
    stored = client.get_run(run.id)
    assert stored.status is RunStatus.FINISHED and stored.metrics == {"m": 1.0}
