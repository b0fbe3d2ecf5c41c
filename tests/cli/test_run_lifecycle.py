"""Soft delete / restore of runs, `trackflow gc`, experiment create / rename / delete (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import invoke
from sklearn.linear_model import LogisticRegression

from trackflow.exceptions import AlreadyExistsError, ConflictError, NotFoundError
from trackflow.tracking.client import Client
from trackflow.tracking.client_lifecycle import (
    collect_garbage,
    create_experiment,
    delete_experiment,
    delete_runs,
    rename_experiment,
    restore_runs,
)
from trackflow.tracking.run_refs import list_runs, resolve_run_ref


def _flow_like(client: Client, experiment: str, name: str, tmp_path: Path) -> tuple[str, str]:
    parent = client.create_run(experiment, run_name=name)
    child = client.create_run(experiment, run_name=f"{name}-task", parent_run_id=parent.id)
    client.log_metric(child.id, "loss", 0.5)
    report = tmp_path / f"{name}.txt"
    report.write_text(name)
    client.log_artifact(parent.id, report)
    client.end_run(child.id)
    client.end_run(parent.id)
    return parent.id, child.id


def test_delete_hides_restore_brings_back(client: Client, tmp_path: Path) -> None:
    parent, child = _flow_like(client, "churn", "a", tmp_path)
    keep, _ = _flow_like(client, "churn", "b", tmp_path)
    assert sorted(delete_runs(client, [client.get_run(parent)])) == sorted([parent, child])
    assert {r.id for r in list_runs(client, ["churn"], top_level=False)} == {keep, *(r.id for r in client.get_child_runs(keep))}
    assert {r.id for r in list_runs(client, None, top_level=False, deleted=True)} == {parent, child}
    assert resolve_run_ref(client, "a").id == parent  # still found by name, to be restored
    assert delete_runs(client, [client.get_run(parent)]) == []  # deleting twice changes nothing
    assert sorted(restore_runs(client, [resolve_run_ref(client, "a")])) == sorted([parent, child])
    assert {r.id for r in list_runs(client, ["churn"])} == {parent, keep}


def test_gc_removes_rows_and_files_but_keeps_registered_runs(client: Client, tmp_path: Path) -> None:
    gone, gone_child = _flow_like(client, "churn", "gone", tmp_path)
    registered, registered_child = _flow_like(client, "churn", "registered", tmp_path)
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})
    client.registry.register_model(LogisticRegression().fit(frame, [0, 1, 0, 1]), "gc-model", run_id=registered_child)
    delete_runs(client, [client.get_run(gone), client.get_run(registered)])
    planned = collect_garbage(client, dry_run=True)
    assert sorted(planned.removed) == sorted([gone, gone_child]) and client.get_runs([gone]) != []
    result = collect_garbage(client)
    assert sorted(result.removed) == sorted([gone, gone_child])
    assert sorted(result.kept) == sorted([registered, registered_child])
    assert client.get_runs([gone, gone_child]) == [] and len(client.get_runs([registered, registered_child])) == 2
    assert not any(key.startswith(gone) for key in client.artifacts.list(""))
    assert any(key.startswith(registered) for key in client.artifacts.list(""))
    assert client.registry.resolve("models:/gc-model/1").run_id == registered_child
    assert collect_garbage(client).removed == []


def test_experiments_create_rename_delete(client: Client, tmp_path: Path) -> None:
    create_experiment(client, "empty")
    with pytest.raises(AlreadyExistsError):
        create_experiment(client, "empty")
    parent, _ = _flow_like(client, "churn", "a", tmp_path)
    rename_experiment(client, "churn", "churn-2025")
    assert client.get_run(parent).experiment_name == "churn-2025"
    with pytest.raises(NotFoundError, match="did you mean 'churn-2025'"):
        rename_experiment(client, "churn-2052", "x")
    with pytest.raises(AlreadyExistsError):
        rename_experiment(client, "churn-2025", "empty")
    with pytest.raises(ConflictError, match="not deleted"):
        delete_experiment(client, "churn-2025")
    assert client.get_runs([parent])  # refused: nothing changed
    delete_runs(client, list_runs(client, ["churn-2025"]))
    assert len(delete_experiment(client, "churn-2025").removed) == 2
    assert [e.name for e in client.list_experiments()] == ["empty"]
    assert client.create_run("churn-2025").experiment_name == "churn-2025"  # the name is free again
    delete_experiment(client, "empty")


def test_cli(tracking_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    client = Client()
    parent, child = _flow_like(client, "churn", "nightly", tmp_path)
    code, out, _ = invoke(["runs", "delete", "nightly"], capsys)
    assert code == 0 and "Deleted 2 run(s)" in out
    code, out, _ = invoke(["runs", "list", "--all", "--format", "json"], capsys)
    assert json.loads(out) == []
    code, out, _ = invoke(["runs", "list", "--deleted", "--format", "json"], capsys)
    assert [r["id"] for r in json.loads(out)] == [parent]
    code, out, _ = invoke(["runs", "show", parent[:8]], capsys)
    assert code == 0 and "deleted" in out
    code, out, _ = invoke(["runs", "restore", "--experiment", "churn"], capsys)
    assert code == 0 and "Restored 2 run(s)" in out
    code, out, _ = invoke(["runs", "delete"], capsys)
    assert code == 2
    code, out, _ = invoke(["runs", "delete", "-e", "churn"], capsys)
    code, out, _ = invoke(["gc", "--dry-run"], capsys)
    assert code == 0 and "Would remove 2" in out and client.get_runs([parent])
    code, out, _ = invoke(["gc"], capsys)
    assert code == 0 and "Removed 2" in out and client.get_runs([parent, child]) == []
    assert invoke(["experiments", "create", "x"], capsys)[0] == 0
    code, _, err = invoke(["experiments", "create", "x"], capsys)
    assert code == 1 and "exists already" in err
    assert invoke(["experiments", "rename", "x", "y"], capsys)[0] == 0
    assert invoke(["experiments", "delete", "churn"], capsys)[0] == 0
    code, out, _ = invoke(["experiments", "list", "--format", "json"], capsys)
    assert [e["name"] for e in json.loads(out)] == ["y"]


def test_migration_0006_adds_run_deletions_to_a_0005_database(store_uri: str) -> None:
    from sqlalchemy import inspect, text

    from trackflow.tracking.store.db import create_tracking_engine
    from trackflow.tracking.store.migrate import SCHEMA_HEAD, stamp_for_tests, upgrade_schema

    engine = create_tracking_engine(store_uri)
    try:
        stamp_for_tests(engine, "0005")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO experiments (id, name, created_at) VALUES ('e1', 'old', 1)"))
            conn.execute(text("INSERT INTO runs (id, experiment_id, name, status, start_time, kind, attempts) "
                              "VALUES ('r1', 'e1', 'kept', 'FINISHED', 1, 'manual', 1)"))  # fmt: skip
        assert "run_deletions" not in inspect(engine).get_table_names()
        assert upgrade_schema(engine) == ("0005", SCHEMA_HEAD)  # through 0006, to the newest
        assert "run_deletions" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
    client = Client()
    assert [r.name for r in list_runs(client, ["old"])] == ["kept"]
    delete_runs(client, list_runs(client, ["old"]))
    assert list_runs(client, ["old"]) == []
