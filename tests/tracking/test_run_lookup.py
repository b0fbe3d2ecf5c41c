"""resolve_run_ref, experiment look-ups, top-level search and dataset prefixes on SQLite and PostgreSQL."""

from __future__ import annotations

import pandas as pd
import pytest

from trackflow.exceptions import InvalidInputError, NotFoundError
from trackflow.tracking.run_refs import find_dataset, resolve_experiment, resolve_run_ref, search_top_level_runs


def test_full_id_dashed_id_prefix_and_name(client) -> None:  # type: ignore[no-untyped-def]
    run = client.create_run("churn", run_name="baseline")
    other = client.create_run("churn", run_name="tuned")
    dashed = "-".join((run.id[:8], run.id[8:12], run.id[12:16], run.id[16:20], run.id[20:]))
    assert resolve_run_ref(client, run.id).id == run.id
    assert resolve_run_ref(client, dashed.upper()).id == run.id
    assert resolve_run_ref(client, f"run:{run.id}").id == run.id
    assert resolve_run_ref(client, run.id[:6]).id == run.id
    assert resolve_run_ref(client, other.id[:12]).id == other.id
    assert resolve_run_ref(client, "baseline").id == run.id
    assert resolve_run_ref(client, " tuned ").id == other.id


def test_ambiguous_name_lists_candidates_newest_first(client) -> None:  # type: ignore[no-untyped-def]
    older = client.create_run("churn", run_name="nightly")
    client.end_run(older.id)
    newer = client.create_run("churn", run_name="nightly")
    with pytest.raises(InvalidInputError, match="several runs") as caught:
        resolve_run_ref(client, "nightly")
    message = str(caught.value)
    assert message.index(newer.id[:12]) < message.index(older.id[:12])


def test_not_found_suggests_close_names(client) -> None:  # type: ignore[no-untyped-def]
    client.create_run("churn", run_name="baseline")
    with pytest.raises(NotFoundError, match="did you mean 'baseline'"):
        resolve_run_ref(client, "baselin")
    with pytest.raises(NotFoundError, match="does not exist"):
        resolve_run_ref(client, "f" * 32)  # well formed, no such run
    with pytest.raises(NotFoundError):
        resolve_run_ref(client, "abcde")  # too short for a prefix: read as a name
    with pytest.raises(InvalidInputError):
        resolve_run_ref(client, "  ")


def test_experiment_names_suggest(client) -> None:  # type: ignore[no-untyped-def]
    client.create_run("churn")
    assert resolve_experiment(client, "churn").name == "churn"
    with pytest.raises(NotFoundError, match=r"No experiment 'chrun'; did you mean 'churn'\?"):
        resolve_experiment(client, "chrun")
    with pytest.raises(NotFoundError, match="did you mean"):
        search_top_level_runs(client, ["chrun"])


def test_top_level_search_leaves_out_nested_runs(client) -> None:  # type: ignore[no-untyped-def]
    parent = client.create_run("churn", run_name="flow")
    child = client.create_run("churn", run_name="task", parent_run_id=parent.id)
    solo = client.create_run("other", run_name="solo")
    assert {r.id for r in search_top_level_runs(client)} == {parent.id, solo.id}
    assert [r.id for r in search_top_level_runs(client, ["churn"])] == [parent.id]
    assert {r.id for r in client.search_runs(["churn"])} == {parent.id, child.id}
    assert search_top_level_runs(client, None, "run_name = 'task'") == []


def test_dataset_fingerprint_prefix(client) -> None:  # type: ignore[no-untyped-def]
    run = client.create_run("churn")
    first = client.log_dataset(run.id, pd.DataFrame({"a": [1, 2]}), "train")
    second = client.log_dataset(run.id, pd.DataFrame({"b": [3.0]}), "test")
    assert find_dataset(client, first.fingerprint[:19]) == first.fingerprint
    assert find_dataset(client, second.fingerprint) == second.fingerprint
    with pytest.raises(InvalidInputError, match="several datasets"):
        find_dataset(client, "sha256:")
    with pytest.raises(NotFoundError, match="No dataset"):
        find_dataset(client, "sha256:%")  # a LIKE wildcard is taken literally
