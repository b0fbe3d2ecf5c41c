"""The store contract: every behaviour of runs, params, metrics, tags, notes, batches,
datasets and search, run against SQLite and PostgreSQL through the public Client."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from db_helpers import database
from sqlalchemy import create_engine, func, inspect, select, table, text

from trackflow.exceptions import ConflictError, InvalidInputError, NotFoundError
from trackflow.tracking.client import Client
from trackflow.tracking.entities import NoteKind, RunStatus


def row_counts(client: Client) -> dict[str, int]:
    """How many rows each table of the database holds (to prove a call wrote nothing)."""
    client.flush()
    with database(client) as conn:
        counts = {
            name: conn.execute(select(func.count()).select_from(table(name))).scalar_one()
            for name in inspect(conn).get_table_names()
        }
    assert {"runs", "params", "metrics", "tags"} <= set(counts)  # the database the client writes to
    return counts


def test_experiments_created_on_first_use(client: Client) -> None:
    run = client.create_run("churn", run_name="a")
    again = client.create_run("churn", run_name="b")
    assert run.experiment_id == again.experiment_id
    assert [e.name for e in client.list_experiments()] == ["churn"]
    assert client.get_experiment_by_name("churn").id == run.experiment_id
    with pytest.raises(NotFoundError, match="churn"):
        client.get_experiment_by_name("nope")


def test_run_life_cycle_and_source(client: Client) -> None:
    run = client.create_run("exp", run_name="first", tags={"team": "growth"})
    assert len(run.id) == 32 and run.status is RunStatus.RUNNING and run.end_time is None
    assert run.tags == {"team": "growth"}
    assert run.user and run.host and run.python_version
    assert "sqlalchemy" in run.package_versions and "pandas" in run.package_versions
    assert client.end_run(run.id, "FAILED", error="ValueError: boom") is None
    ended = client.get_run(run.id)
    assert ended.status is RunStatus.FAILED and ended.error == "ValueError: boom"
    assert ended.end_time is not None and ended.duration_seconds is not None


def test_nested_runs(client: Client) -> None:
    parent = client.create_run("exp")
    child = client.create_run("exp", parent_run_id=parent.id)
    assert child.parent_run_id == parent.id
    assert [r.id for r in client.get_child_runs(parent.id)] == [child.id]
    with pytest.raises(NotFoundError):
        client.create_run("exp", parent_run_id="0" * 32)


def test_params_write_once(client: Client) -> None:
    run = client.create_run("exp")
    client.log_params(run.id, {"lr": 0.1, "depth": 5, "long": "x" * 8000})
    client.log_param(run.id, "lr", 0.1)  # same value again: accepted
    before = row_counts(client)
    with pytest.raises(ConflictError) as caught:
        client.log_params(run.id, {"lr": 0.2, "new": 1})
    assert "'0.1'" in str(caught.value) and "'0.2'" in str(caught.value)
    assert row_counts(client) == before  # "new" was not written either
    assert client.get_run(run.id).params == {"depth": "5", "long": "x" * 8000, "lr": "0.1"}


def test_param_value_too_long_is_rejected(client: Client) -> None:
    run = client.create_run("exp")
    before = row_counts(client)
    with pytest.raises(InvalidInputError, match="8000"):
        client.log_param(run.id, "big", "x" * 8001)
    assert row_counts(client) == before


def test_metrics_history_and_special_values(client: Client) -> None:
    run = client.create_run("exp")
    for step in range(5):
        client.log_metric(run.id, "loss", 1.0 / (step + 1), step=step)
    client.log_metric(run.id, "nan", float("nan"))
    client.log_metric(run.id, "pinf", float("inf"))
    client.log_metric(run.id, "ninf", float("-inf"))
    client.log_metric(run.id, "np", np.float32(0.5))
    history = client.get_metric_history(run.id, "loss")
    assert [m.step for m in history] == [0, 1, 2, 3, 4]
    assert [m.value for m in history] == [1.0, 0.5, 1 / 3, 0.25, 0.2]
    metrics = client.get_run(run.id).metrics
    assert math.isnan(metrics["nan"]) and metrics["pinf"] == math.inf and metrics["ninf"] == -math.inf
    assert metrics["loss"] == 0.2 and metrics["np"] == 0.5
    assert math.isnan(client.get_metric_history(run.id, "nan")[0].value)


def test_latest_metric_is_highest_step(client: Client) -> None:
    run = client.create_run("exp")
    client.log_metric(run.id, "acc", 0.9, step=10)
    client.log_metric(run.id, "acc", 0.1, step=2)  # an older step logged late
    assert client.get_run(run.id).metrics["acc"] == 0.9


@pytest.mark.parametrize("value", ["0.5", None, [1], {"a": 1}, complex(1, 2)])
def test_non_numeric_metric_rejected(client: Client, value: object) -> None:
    run = client.create_run("exp")
    before = row_counts(client)
    with pytest.raises(InvalidInputError, match="number"):
        client.log_metric(run.id, "m", value)  # type: ignore[arg-type]
    assert row_counts(client) == before


def test_tags_overwrite_and_delete(client: Client) -> None:
    run = client.create_run("exp")
    client.set_tags(run.id, {"a": "1", "b": 2})
    client.set_tag(run.id, "a", "3")
    assert client.get_run(run.id).tags == {"a": "3", "b": "2"}
    client.delete_tag(run.id, "a")
    assert client.get_run(run.id).tags == {"b": "2"}
    with pytest.raises(NotFoundError):
        client.delete_tag(run.id, "a")


def test_notes(client: Client) -> None:
    run = client.create_run("exp")
    client.note(run.id, "Dropped null ages", kind="assumption")
    client.note(run.id, "RF over GBM", kind="decision")
    notes = client.get_notes(run.id)
    assert [(n.kind, n.text) for n in notes] == [(NoteKind.ASSUMPTION, "Dropped null ages"), (NoteKind.DECISION, "RF over GBM")]
    assert [n.text for n in client.get_notes(run.id, kind="decision")] == ["RF over GBM"]
    before = row_counts(client)
    with pytest.raises(InvalidInputError, match="note kind"):
        client.note(run.id, "x", kind="rumour")
    assert row_counts(client) == before


def test_log_batch_is_all_or_nothing(client: Client) -> None:
    run = client.create_run("exp")
    client.log_batch(run.id, params={"a": 1}, metrics={"m": 1.0}, tags={"t": "x"})
    before = row_counts(client)
    with pytest.raises(ConflictError):
        client.log_batch(run.id, params={"a": 2, "b": 3}, metrics={"m": 2.0, "n": 1.0}, tags={"u": "y"})
    assert row_counts(client) == before
    with pytest.raises(InvalidInputError):
        client.log_batch(run.id, params={"c": 1}, metrics={"m": "bad"})
    assert row_counts(client) == before
    client.log_batch(run.id, metrics=[("m", 3.0, 1), ("m", 4.0, 2)])
    assert [m.value for m in client.get_metric_history(run.id, "m")] == [1.0, 3.0, 4.0]


@pytest.mark.parametrize(
    "call",
    [
        lambda c, r: c.log_param(r, "", 1),
        lambda c, r: c.log_param(r, "a/b", 1),
        lambda c, r: c.log_metric(r, "bad\nkey", 1.0),
        lambda c, r: c.log_metric(r, "k" * 251, 1.0),
        lambda c, r: c.set_tag(r, " padded", "x"),
        lambda c, r: c.log_metric(r, "m", 1.0, step="one"),
        lambda c, r: c.log_metric(r, "m", 1.0, step=2**63),
        lambda c, r: c.log_batch(r, metrics=[("m", 1.0, -(2**63))]),
        lambda c, r: c.log_metric("not-a-run-id", "m", 1.0),
        lambda c, r: c.create_run("a/b"),
        lambda c, r: c.create_run(""),
        lambda c, r: c.create_run("x\x00y"),
    ],
)
def test_invalid_names_rejected_and_nothing_written(client: Client, call) -> None:  # type: ignore[no-untyped-def]
    run = client.create_run("exp")
    before = row_counts(client)
    with pytest.raises(InvalidInputError):
        call(client, run.id)
    assert row_counts(client) == before


def test_unknown_run_is_not_found(client: Client) -> None:
    with pytest.raises(NotFoundError):
        client.log_metric("f" * 32, "m", 1.0)
    with pytest.raises(NotFoundError):
        client.get_run("f" * 32)


def test_datasets_deduplicated_by_content(client: Client) -> None:
    frame = pd.DataFrame({"age": [30, None, 45], "city": ["a", "b", "a"]})
    first = client.create_run("exp")
    second = client.create_run("exp")
    one = client.log_dataset(first.id, frame, "train")
    two = client.log_dataset(second.id, frame.copy(), "training-data")
    assert one.id == two.id and one.fingerprint == two.fingerprint
    assert one.num_rows == 3 and one.num_columns == 2
    assert [c["name"] for c in one.schema] == ["age", "city"]
    assert one.profile["columns"]["age"]["null_count"] == 1
    used = client.get_datasets(second.id)
    assert [(d.name, d.role, d.dataset.id) for d in used] == [("training-data", "input", one.id)]
    client.log_dataset(second.id, np.arange(6).reshape(3, 2), "preds", role="output")
    assert [d.role for d in client.get_datasets(second.id)] == ["input", "output"]
    with pytest.raises(InvalidInputError):
        client.log_dataset(second.id, frame, "x", role="sideways")


def _seed_search(client: Client) -> dict[str, str]:
    ids = {}
    for name, loss, depth, team in [("a", 0.1, "5", "growth"), ("b", 0.5, "5", "core"), ("c", 0.15, "3", "core"),
                                   ("d", float("nan"), "5", "growth"), ("e", 0.05, "3", "growth")]:
        run = client.create_run("churn", run_name=name)
        client.log_batch(run.id, params={"max_depth": depth}, metrics={"loss": loss}, tags={"team": team})
        client.end_run(run.id)
        ids[name] = run.id
    client.create_run("other", run_name="z")
    return ids


def test_search_filter_order_and_paging(client: Client) -> None:
    ids = _seed_search(client)
    names = {v: k for k, v in ids.items()}
    found = client.search_runs(
        "churn",
        filter="metrics.loss < 0.2 and (params.max_depth = '5' or tags.team = 'growth')",
        order_by=["metrics.loss ASC"],
    )
    assert [names[r.id] for r in found] == ["e", "a"]
    ordered = client.search_runs("churn", order_by="metrics.loss DESC")
    assert [names[r.id] for r in ordered] == ["b", "c", "a", "e", "d"]  # NaN last
    assert [names[r.id] for r in client.search_runs("churn", "metrics.loss >= 0")] != []
    assert "d" not in {names[r.id] for r in client.search_runs("churn", "metrics.loss > -1")}
    first = client.search_runs("churn", order_by=["attributes.run_name"], max_results=2)
    assert [names[r.id] for r in first] == ["a", "b"] and first.token
    second = client.search_runs("churn", order_by=["attributes.run_name"], max_results=2, page_token=first.token)
    assert [names[r.id] for r in second] == ["c", "d"]
    assert {r.experiment_name for r in client.search_runs()} == {"churn", "other"}
    frame = client.search_runs("churn", output="pandas")
    assert len(frame) == 5 and {"metrics.loss", "params.max_depth", "tags.team"} <= set(frame.columns)


def test_search_rejects_bad_filters(client: Client) -> None:
    _seed_search(client)
    with pytest.raises(InvalidInputError, match="position"):
        client.search_runs("churn", "metrics.loss <")
    with pytest.raises(InvalidInputError):
        client.search_runs("churn", "params.max_depth = 5")
    with pytest.raises(InvalidInputError):
        client.search_runs("churn", max_results=0)


def test_sql_in_names_and_values_is_data(client: Client) -> None:
    evil = "x'); DROP TABLE runs; --"
    run = client.create_run("exp")
    client.log_param(run.id, "evil", evil)
    client.set_tag(run.id, "t", evil)
    found = client.search_runs("exp", f"params.evil = \"{evil}\"")
    assert [r.id for r in found] == [run.id]
    with database(client) as conn:
        assert conn.execute(text("SELECT count(*) FROM runs")).scalar_one() == 1


def test_get_run_by_prefect_id(client: Client) -> None:
    flow_run = client.create_run("exp", kind="flow", flow_run_id="11111111-1111-1111-1111-111111111111")
    task_run = client.create_run(
        "exp", kind="task", parent_run_id=flow_run.id, flow_run_id="11111111-1111-1111-1111-111111111111",
        task_run_id="22222222-2222-2222-2222-222222222222",
    )
    assert client.get_run_by_prefect_id("11111111-1111-1111-1111-111111111111").id == flow_run.id
    assert client.get_run_by_prefect_id("22222222-2222-2222-2222-222222222222").id == task_run.id
    with pytest.raises(NotFoundError):
        client.get_run_by_prefect_id("33333333-3333-3333-3333-333333333333")


def test_reads_see_buffered_values_and_end_flushes(client: Client, store_uri: str) -> None:
    run = client.create_run("exp")
    for i in range(100):
        client.log_metric(run.id, "m", float(i), step=i)
    assert len(client.get_metric_history(run.id, "m")) == 100
    client.log_metric(run.id, "last", 1.0)
    client.end_run(run.id)
    # a separate engine (as another process would) sees every value after end_run
    url = store_uri.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM metrics WHERE run_id = :r"), {"r": run.id}).scalar_one()
    engine.dispose()
    assert count == 101
