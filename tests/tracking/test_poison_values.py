"""Poison values: what the database cannot store is refused at call time (or stored escaped),
and a record the database still rejects at write time is dropped alone, never blocking the
queue. Run against SQLite and PostgreSQL through the public Client."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from db_helpers import database
from sqlalchemy import text

from trackflow.exceptions import InvalidInputError, StoreError
from trackflow.tracking.client import Client
from trackflow.tracking.entities import RunStatus

SURROGATE_FILE = "caf\udce9.csv"  # os.listdir() of the Latin-1 bytes b"caf\xe9.csv"


def assert_store_healthy(client: Client, run_id: str) -> None:
    """Later writes and reads of the process still work, and the run ends normally."""
    client.log_param(run_id, "after", "ok")
    client.log_metric(run_id, "after", 1.0)
    client.end_run(run_id)
    run = client.get_run(run_id)
    assert run.status == RunStatus.FINISHED
    assert run.params["after"] == "ok"
    assert run.metrics["after"] == 1.0
    assert client._buffer.pending == 0


# ---- call-time validation ----------------------------------------------------------------


def test_param_value_with_a_lone_surrogate_is_stored_escaped(client: Client) -> None:
    run = client.create_run("poison")
    client.log_param(run.id, "train_file", SURROGATE_FILE)
    client.log_params(run.id, {"other": "x", "unicode": "naïve ✓"})
    client.set_tag(run.id, "source", f"/data/{SURROGATE_FILE}")
    stored = client.get_run(run.id)
    assert stored.params["train_file"] == "caf\\udce9.csv"
    assert stored.params["unicode"] == "naïve ✓"  # valid non-ASCII text is kept as it is
    assert stored.tags["source"] == "/data/caf\\udce9.csv"
    client.log_param(run.id, "train_file", SURROGATE_FILE)  # the same value again: no conflict
    assert_store_healthy(client, run.id)


@pytest.mark.parametrize("kind", ["metric", "param", "tag"])
def test_key_with_a_lone_surrogate_is_rejected(client: Client, kind: str) -> None:
    run = client.create_run("poison")
    bad_key = "loss_\udce9"
    with pytest.raises(InvalidInputError, match="surrogate") as info:
        if kind == "metric":
            client.log_metric(run.id, bad_key, 1.0)
        elif kind == "param":
            client.log_param(run.id, bad_key, 1)
        else:
            client.set_tag(run.id, bad_key, "x")
    assert "loss_" in str(info.value)
    with pytest.raises(InvalidInputError):
        client.log_batch(run.id, metrics={bad_key: 1.0})
    assert client._buffer.pending == 0
    assert_store_healthy(client, run.id)


@pytest.mark.parametrize("timestamp", [2**70, -1, 2**63, "abc", "1700000000000", True, math.nan, 1.5e300])
def test_bad_timestamp_is_rejected(client: Client, timestamp: object) -> None:
    run = client.create_run("poison")
    with pytest.raises(InvalidInputError, match="timestamp"):
        client.log_metric(run.id, "loss", 0.5, timestamp=timestamp)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="timestamp"):
        client.log_batch(run.id, metrics=[("loss", 0.5, 0, timestamp)])
    assert client._buffer.pending == 0
    client.log_metric(run.id, "loss", 0.25, step=1, timestamp=np.int64(1_700_000_000_000))
    client.log_batch(run.id, metrics=[("loss", 0.5, 2, 1_700_000_000_001.7)])
    history = client.get_metric_history(run.id, "loss")
    assert [(m.step, m.value, int(m.timestamp.timestamp() * 1000)) for m in history] == [
        (1, 0.25, 1_700_000_000_000),
        (2, 0.5, 1_700_000_000_001),
    ]
    assert_store_healthy(client, run.id)


def test_numpy_scalars_and_huge_numbers(client: Client) -> None:
    run = client.create_run("poison")
    client.log_metric(run.id, "np_bool", np.bool_(True))  # type: ignore[arg-type]
    client.log_metrics(run.id, {"np_false": np.bool_(False), "np_f32": np.float32(0.5), "np_i8": np.int8(3)})
    client.log_metric(run.id, "zero_d", np.array(2.0))  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="too large"):
        client.log_metric(run.id, "huge", 10**400)
    with pytest.raises(InvalidInputError, match="too large"):
        client.log_metric(run.id, "very_huge", 10**5000)
    with pytest.raises(InvalidInputError, match="must be a number"):
        client.log_metric(run.id, "array", np.array([1.0, 2.0]))  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="must be a number"):
        client.log_metric(run.id, "text", np.str_("1.0"))  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="text"):
        client.log_param(run.id, "huge_int", 10**5000)
    client.log_param(run.id, "big_int", 10**400)  # params are text: any size that fits 8,000 characters
    with pytest.raises(InvalidInputError, match="must be a string"):
        client.log_metric(run.id, ["not", "hashable"], 1.0)  # type: ignore[arg-type]
    stored = client.get_run(run.id)
    assert stored.metrics == {"np_bool": 1.0, "np_false": 0.0, "np_f32": 0.5, "np_i8": 3.0, "zero_d": 2.0}
    assert stored.params["big_int"] == str(10**400)
    assert_store_healthy(client, run.id)


def test_run_text_with_a_lone_surrogate_is_stored_escaped(client: Client) -> None:
    run = client.create_run("poison")
    client.end_run(run.id, RunStatus.FAILED, error=f"FileNotFoundError: {SURROGATE_FILE}")
    assert client.get_run(run.id).error == "FileNotFoundError: caf\\udce9.csv"


# ---- a record the database rejects at write time -----------------------------------------


def test_a_record_of_a_deleted_run_is_dropped_and_the_rest_stored(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    """A run deleted by another process while its values wait in the queue: the database
    refuses them (foreign key); every value of every other run is still written."""
    keep = client.create_run("poison")
    gone = client.create_run("poison")
    late = client.create_run("poison", defer=True)  # queued in the same batch
    client.flush()
    for step in range(50):
        client.log_metric(keep.id, "loss", 1 / (step + 1), step=step)
        client.log_metric(gone.id, "loss", 1.0, step=step)
        client.log_metric(late.id, "acc", step / 50, step=step)
    client.log_params(keep.id, {"lr": 0.1, "file": SURROGATE_FILE})
    client.log_param(gone.id, "lr", 0.2)
    client.set_tags(late.id, {"team": "growth"})
    client.end_run(late.id, defer=True)
    with database(client) as conn:  # another process deletes the run
        conn.execute(text("DELETE FROM runs WHERE id = :id"), {"id": gone.id})
        conn.commit()
    with caplog.at_level(logging.ERROR, logger="trackflow"):
        client.flush()
    assert client._buffer.pending == 0
    dropped = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert len(dropped) == 1, dropped  # one line for the run: its keys and the reason
    assert "dropped 51 value(s)" in dropped[0] and gone.id in dropped[0]
    assert "metric 'loss' x50" in dropped[0] and "param 'lr'" in dropped[0]
    assert "not in the database" in dropped[0]
    kept = client.get_run(keep.id)
    assert kept.params == {"lr": "0.1", "file": "caf\\udce9.csv"}
    assert len(client.get_metric_history(keep.id, "loss")) == 50
    stored_late = client.get_run(late.id)
    assert stored_late.status == RunStatus.FINISHED
    assert stored_late.tags["team"] == "growth"
    assert len(client.get_metric_history(late.id, "acc")) == 50
    assert_store_healthy(client, keep.id)


def test_a_value_the_database_rejects_is_dropped_alone(
    client: Client, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With call-time validation bypassed, the poison values of the issue reach the
    database: each is dropped and logged, every other value and run is stored."""
    import trackflow.tracking.client_logging as client_logging
    import trackflow.tracking.validation as validation

    run = client.create_run("poison")
    other = client.create_run("poison", defer=True)
    monkeypatch.setattr(client_logging, "validate_timestamp", lambda key, ts: ts)
    monkeypatch.setattr(validation, "_valid_keys", {"bad_\udce9"})  # a key the validation "knows"
    monkeypatch.setattr(validation, "escape_surrogates", lambda text: text)
    for step in range(20):
        client.log_metric(run.id, "loss", 0.5, step=step)
        client.log_metric(other.id, "loss", 0.5, step=step)
    client.log_metric(run.id, "loss", 0.1, step=99, timestamp=2**70)
    client.log_metric(run.id, "bad_\udce9", 0.1)
    client.log_param(run.id, "train_file", SURROGATE_FILE)
    client.log_param(run.id, "lr", 0.1)
    client.set_tag(other.id, "note", "fine")
    client.end_run(other.id, defer=True)
    with caplog.at_level(logging.ERROR, logger="trackflow"):
        client.flush()
    monkeypatch.undo()
    assert client._buffer.pending == 0
    dropped = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert len(dropped) == 3, dropped
    assert all(run.id in message for message in dropped)
    assert any("metric 'loss'" in message and "step 99" in message for message in dropped)
    assert any("param 'train_file'" in message for message in dropped)
    stored = client.get_run(run.id)
    assert stored.params == {"lr": "0.1"}
    assert [m.step for m in client.get_metric_history(run.id, "loss")] == list(range(20))
    stored_other = client.get_run(other.id)
    assert stored_other.status == RunStatus.FINISHED and stored_other.tags["note"] == "fine"
    assert len(client.get_metric_history(other.id, "loss")) == 20
    client.log_param(run.id, "train_file", SURROGATE_FILE)  # dropped, so it may be logged again (escaped)
    assert client.get_run(run.id).params["train_file"] == "caf\\udce9.csv"
    assert_store_healthy(client, run.id)


# ---- an unavailable database is not a rejection ------------------------------------------


def outage(client: Client, monkeypatch: pytest.MonkeyPatch, failing_writes: set[int]) -> None:
    """Make the given write transactions (1st, 2nd ...) fail as an unreachable database does
    (general ones and the write buffer's batch transactions, counted together)."""
    store = client._buffer.store
    original = store.transaction
    original_batch = store.batch_transaction
    calls = [0]

    def failing(write: bool) -> None:
        if write:
            calls[0] += 1
            if calls[0] in failing_writes:
                raise StoreError("The tracking database failed: simulated outage")

    @contextmanager
    def transaction(*, write: bool = True) -> Iterator[object]:
        failing(write)
        with original(write=write) as tx:
            yield tx

    @contextmanager
    def batch_transaction() -> Iterator[object]:
        failing(True)
        with original_batch() as tx:
            yield tx

    monkeypatch.setattr(store, "transaction", transaction)
    monkeypatch.setattr(store, "batch_transaction", batch_transaction)


def test_an_unavailable_database_drops_nothing(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    run = client.create_run("poison")
    client._buffer.flush_interval = 3600  # no background write in between
    for step in range(10):
        client.log_metric(run.id, "loss", 0.5, step=step)
    outage(client, monkeypatch, {1})
    with pytest.raises(StoreError, match="simulated outage"):
        client.flush()
    assert client._buffer.pending == 10  # back in the queue
    client.flush()
    assert [m.step for m in client.get_metric_history(run.id, "loss")] == list(range(10))


def test_an_outage_while_splitting_writes_each_value_once(
    client: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import trackflow.tracking.client_logging as client_logging

    run = client.create_run("poison")
    client._buffer.flush_interval = 3600  # no background write in between
    monkeypatch.setattr(client_logging, "validate_timestamp", lambda key, ts: ts)
    for step in range(20):
        client.log_metric(run.id, "loss", 0.5, step=step)
    client.log_metric(run.id, "loss", 0.1, step=99, timestamp=2**70)
    # write 1: the batch, rejected; 2: the run's part, rejected; 3: its first half (10 values),
    # written; 4: the second half, when the database goes away
    outage(client, monkeypatch, {4})
    with pytest.raises(StoreError, match="simulated outage"):
        client.flush()
    assert client._buffer.pending == 11  # what was not written is back in the queue
    with caplog.at_level(logging.ERROR, logger="trackflow"):
        client.flush()
    assert client._buffer.pending == 0
    assert [m.step for m in client.get_metric_history(run.id, "loss")] == list(range(20))  # no duplicates
    assert sum("dropped" in r.getMessage() for r in caplog.records) == 1
