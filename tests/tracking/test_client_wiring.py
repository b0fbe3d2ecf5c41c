"""The Client methods C1's modules add, once wired into Client (tests/tracking/test_client_wiring.py)."""

from __future__ import annotations

import pytest

from trackflow.exceptions import NotFoundError
from trackflow.tracking.client import Client


def test_get_run_and_find_run_take_any_reference(client: Client) -> None:
    run = client.create_run("churn", run_name="baseline")
    assert client.get_run(run.id).id == run.id
    assert client.get_run(run.id[:8]).id == run.id
    assert client.find_run("baseline").id == run.id
    with pytest.raises(NotFoundError, match="did you mean 'baseline'"):
        client.get_run("baselin")


def test_diff_runs(client: Client) -> None:
    a = client.create_run("churn", params={"lr": 0.1})
    b = client.create_run("churn", params={"lr": 0.2})
    assert [(d.kind, d.what, d.before, d.now) for d in client.diff_runs(a.id, b).of_kind("params")] == [
        ("params", "lr", "0.1", "0.2")
    ]


def test_deleted_runs_are_left_out_of_search_runs(client: Client) -> None:
    kept = client.create_run("churn", run_name="kept")
    gone = client.create_run("churn", run_name="gone")
    client.delete_runs([gone.id])
    assert [r.id for r in client.search_runs(["churn"])] == [kept.id]
    assert client.get_run(gone.id).id == gone.id  # still readable by id
    client.restore_runs(["gone"])
    assert {r.id for r in client.search_runs(["churn"])} == {kept.id, gone.id}
