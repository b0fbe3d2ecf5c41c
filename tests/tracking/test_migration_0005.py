"""Migration 0005 merges the duplicate runs a killed Dask worker left, then enforces the keys.

A 0004 database is built with the rows trackflow wrote before: two runs for one Prefect task
run (the first left RUNNING by the dead worker, the second FINISHED by the recomputation,
each with values), two flow-kind runs for one flow run, and a metric value stored twice. It
is upgraded on SQLite and PostgreSQL and checked row by row.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from trackflow.tracking.store.db import create_tracking_engine
from trackflow.tracking.store.migrate import SCHEMA_HEAD, stamp_for_tests, upgrade_schema

_ROWS = [
    "INSERT INTO experiments (id, name, created_at) VALUES ('e1', 'exp', 1)",
    # one flow run recorded twice; the second has a nested task run
    "INSERT INTO runs (id, experiment_id, name, status, kind, start_time, end_time, attempts, flow_run_id) "
    "VALUES ('f1', 'e1', 'flow', 'FINISHED', 'flow', 100, 900, 1, 'fr-1')",
    "INSERT INTO runs (id, experiment_id, name, status, kind, start_time, attempts, flow_run_id) "
    "VALUES ('f2', 'e1', 'flow', 'RUNNING', 'flow', 150, 1, 'fr-1')",
    # task run tr-1: made by a worker that died (RUNNING), then again by the recomputation (FINISHED)
    "INSERT INTO runs (id, experiment_id, name, status, kind, start_time, attempts, parent_run_id, flow_run_id, "
    "task_run_id) VALUES ('t1', 'e1', 'task', 'RUNNING', 'task', 200, 1, 'f2', 'fr-1', 'tr-1')",
    "INSERT INTO runs (id, experiment_id, name, status, kind, start_time, end_time, attempts, parent_run_id, "
    "flow_run_id, task_run_id) VALUES ('t2', 'e1', 'task', 'FINISHED', 'task', 300, 400, 1, 'f1', 'fr-1', 'tr-1')",
    "INSERT INTO runs (id, experiment_id, name, status, kind, start_time, attempts, flow_run_id, task_run_id) "
    "VALUES ('t3', 'e1', 'other', 'FINISHED', 'task', 250, 1, 'fr-1', 'tr-2')",
    # values: t1 logged step 0, t2 logged steps 0 and 1; t3 has one value stored twice and a NaN
    "INSERT INTO metrics (run_id, key, value, is_nan, step, timestamp) VALUES ('t1', 'loss', 0.9, :f, 0, 210)",
    "INSERT INTO metrics (run_id, key, value, is_nan, step, timestamp) VALUES ('t2', 'loss', 0.8, :f, 0, 310)",
    "INSERT INTO metrics (run_id, key, value, is_nan, step, timestamp) VALUES ('t2', 'loss', 0.7, :f, 1, 320)",
    "INSERT INTO metrics (run_id, key, value, is_nan, step, timestamp) VALUES ('t3', 'acc', 0.5, :f, 0, 260)",
    "INSERT INTO metrics (run_id, key, value, is_nan, step, timestamp) VALUES ('t3', 'acc', 0.5, :f, 0, 260)",
    "INSERT INTO metrics (run_id, key, value, is_nan, step, timestamp) VALUES ('t3', 'gap', NULL, :t, 0, 260)",
    "INSERT INTO metrics (run_id, key, value, is_nan, step, timestamp) VALUES ('t3', 'gap', NULL, :t, 0, 260)",
    "INSERT INTO latest_metrics (run_id, key, value, is_nan, step, timestamp) VALUES ('t1', 'loss', 0.9, :f, 0, 210)",
    "INSERT INTO latest_metrics (run_id, key, value, is_nan, step, timestamp) VALUES ('t2', 'loss', 0.7, :f, 1, 320)",
    "INSERT INTO params (run_id, key, value) VALUES ('t1', 'x', '3')",
    "INSERT INTO params (run_id, key, value) VALUES ('t2', 'x', '3')",
    "INSERT INTO tags (run_id, key, value) VALUES ('t2', 'prefect.task', 'task')",
    "INSERT INTO notes (run_id, kind, text, created_at) VALUES ('t2', 'note', 'kept', 330)",
    "INSERT INTO lineage_edges (source, target, relation, run_id, created_at) "
    "VALUES ('run:t2', 'dataset:d1', 'output', 't2', 340)",
    "INSERT INTO lineage_edges (source, target, relation, run_id, created_at) "
    "VALUES ('run:t1', 'dataset:d1', 'output', 't1', 220)",
]


@pytest.fixture
def old_database(store_uri: str) -> Iterator[str]:
    """``store_uri`` at revision 0004 holding the duplicates above."""
    engine = create_tracking_engine(store_uri)
    stamp_for_tests(engine, "0004")
    with engine.begin() as conn:
        for statement in _ROWS:
            conn.execute(text(statement), {"t": True, "f": False})
    engine.dispose()
    yield store_uri


def _all(conn: Connection, sql: str) -> list[tuple[object, ...]]:
    return [tuple(row) for row in conn.execute(text(sql))]


def test_upgrade_merges_duplicate_runs_and_values_then_enforces_the_keys(old_database: str) -> None:
    engine = create_tracking_engine(old_database)
    assert upgrade_schema(engine) == ("0004", SCHEMA_HEAD)
    with engine.connect() as conn:
        runs = _all(conn, "SELECT id, status, end_time, attempts, parent_run_id, pid FROM runs ORDER BY id")
        # the earliest run of each Prefect run is kept: it takes the final state it lacked and counts both executions
        assert runs == [
            ("f1", "FINISHED", 900, 2, None, None),
            ("t1", "FINISHED", 400, 2, "f1", None),
            ("t3", "FINISHED", None, 1, None, None),
        ]
        history = _all(conn, "SELECT run_id, key, step, value, is_nan FROM metrics ORDER BY run_id, key, step")
        assert history == [
            ("t1", "loss", 0, 0.9, False),  # its own step 0; t2's step 1 moved over, t2's step 0 dropped
            ("t1", "loss", 1, 0.7, False),
            ("t3", "acc", 0, 0.5, False),  # stored twice before, once now
            ("t3", "gap", 0, None, True),  # NaN, stored twice before
        ]
        assert _all(conn, "SELECT run_id, key, value, step FROM latest_metrics") == [("t1", "loss", 0.7, 1)]
        assert _all(conn, "SELECT run_id, key FROM params") == [("t1", "x")]
        assert _all(conn, "SELECT run_id, key FROM tags") == [("t1", "prefect.task")]
        assert _all(conn, "SELECT run_id, text FROM notes") == [("t1", "kept")]
        assert _all(conn, "SELECT source, target, run_id FROM lineage_edges") == [("run:t1", "dataset:d1", "t1")]
        assert _all(conn, "SELECT name FROM sqlite_master WHERE name = 'tf_run_merge'" if conn.dialect.name == "sqlite"
                    else "SELECT tablename FROM pg_tables WHERE tablename = 'tf_run_merge' AND schemaname = current_schema()"
                    ) == []  # fmt: skip
    for duplicate in (
        "INSERT INTO runs (id, experiment_id, name, status, kind, start_time, attempts, flow_run_id, task_run_id) "
        "VALUES ('t9', 'e1', 'again', 'RUNNING', 'task', 500, 1, 'fr-1', 'tr-1')",
        "INSERT INTO runs (id, experiment_id, name, status, kind, start_time, attempts, flow_run_id) "
        "VALUES ('f9', 'e1', 'again', 'RUNNING', 'flow', 500, 1, 'fr-1')",
        "INSERT INTO metrics (run_id, key, value, is_nan, step, timestamp) VALUES ('t3', 'acc', 0.5, :f, 0, 260)",
        "INSERT INTO metrics (run_id, key, value, is_nan, step, timestamp) VALUES ('t3', 'gap', NULL, :t, 0, 260)",
    ):
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text(duplicate), {"f": False, "t": True})
    with engine.begin() as conn:  # what stays allowed: task runs without a Prefect id, manual runs, new values
        conn.execute(text("INSERT INTO runs (id, experiment_id, name, status, kind, start_time, attempts) "
                          "VALUES ('m1', 'e1', 'a', 'RUNNING', 'manual', 1, 1), ('m2', 'e1', 'b', 'RUNNING', 'task', 1, 1)"))  # fmt: skip
        conn.execute(text("INSERT INTO metrics (run_id, key, value, is_nan, step, timestamp) "
                          "VALUES ('t3', 'acc', 0.6, :f, 0, 260)"), {"f": False})  # fmt: skip
    engine.dispose()
