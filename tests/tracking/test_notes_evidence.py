"""Notes with evidence and informs: lineage nodes and edges, validation, search (SQLite and PostgreSQL)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_store_contract import row_counts

from trackflow.exceptions import InvalidInputError, NotFoundError
from trackflow.tracking.client import Client
from trackflow.tracking.entities import NoteKind


def _exploration(client: Client) -> tuple[str, pd.DataFrame]:
    run = client.create_run("churn-exploration", run_name="explore", kind="exploration")
    frame = pd.DataFrame({"age": [31, 45, 22, 60], "churned": [0, 1, 0, 1]})
    client.log_metric(run.id, "auc", 0.83)
    client.log_text(run.id, "roc curve", "plots/roc.txt")
    return run.id, frame


def test_note_with_evidence_becomes_a_lineage_node(client: Client) -> None:
    run_id, frame = _exploration(client)
    other = client.create_run("churn-exploration", run_name="baseline")
    earlier = client.note(other.id, "Baseline is logistic regression", kind="decision")
    note = client.note(
        run_id, "Older customers churn more", kind="finding",
        evidence=[frame, "metrics.auc", "plots/roc.txt", other, earlier.ref],
    )
    assert note.kind is NoteKind.FINDING and note.ref == f"note:{note.id}"
    dataset = client.get_datasets(run_id)[0].dataset
    artifact = client.list_artifacts(run_id, "plots/roc.txt")[0]
    assert note.evidence == (dataset.ref, f"run:{run_id}", f"artifact:{artifact.uri}", other.ref, earlier.ref)
    assert note.evidence_names == ("evidence-1", "metrics.auc", "plots/roc.txt", "baseline", "")
    assert client.get_notes(run_id) == [note]
    assert client.get_note(note.ref) == note

    graph = client.lineage(note.ref, direction="upstream")
    assert set(graph.nodes) >= {note.ref, dataset.ref, f"run:{run_id}", f"artifact:{artifact.uri}", earlier.ref}
    node = graph.nodes[note.ref]
    assert node.kind == "note" and node.label == "Older customers churn more"
    assert node.attributes["kind"] == "finding" and node.attributes["run_id"] == run_id
    noted = client.lineage(note.ref, direction="downstream", depth=1)
    assert [(e.target, e.relation) for e in noted.edges] == [(f"run:{run_id}", "noted_in")]


def test_notes_of_many_runs_in_one_read_match_each_runs_notes(client: Client) -> None:
    run_id, frame = _exploration(client)
    other = client.create_run("churn-exploration", run_name="baseline")
    silent = client.create_run("churn-exploration", run_name="silent")
    client.note(run_id, "first", kind="finding", evidence=[frame])
    client.note(other.id, "second", kind="decision", informs=[run_id])
    client.note(run_id, "third")
    found = client.get_notes_of_runs([run_id, other.id, silent.id])
    assert found == {run_id: client.get_notes(run_id), other.id: client.get_notes(other.id)}
    assert [n.text for n in found[run_id]] == ["first", "third"] and found[run_id][0].evidence


def test_two_metrics_of_one_run_share_one_edge(client: Client) -> None:
    run_id, _ = _exploration(client)
    client.log_metric(run_id, "f1", 0.7)
    note = client.note(run_id, "Both metrics agree", evidence=["metrics.auc", "metrics.f1"])
    assert note.evidence == (f"run:{run_id}",) and note.evidence_names == ("metrics.auc, metrics.f1",)


def test_informs_reaches_the_pipeline_upstream(client: Client) -> None:
    run_id, frame = _exploration(client)
    pipeline = client.create_run("churn", run_name="pipeline", kind="flow")
    task = client.create_run("churn", run_name="train", kind="task", parent_run_id=pipeline.id)
    decision = client.note(run_id, "Use gradient boosting", kind="decision", evidence=[np.arange(5)],
                           informs=[pipeline.id])
    assert decision.informs == (pipeline.ref,)
    assert client.link_informs(pipeline.id, [run_id]) == [f"run:{run_id}"]
    assert client.informed_by(pipeline.id) == [decision.ref, f"run:{run_id}"]
    assert client.informed_by(task.id) == [decision.ref, f"run:{run_id}"]
    graph = client.lineage(pipeline.ref, direction="upstream", scope="all")
    assert {decision.ref, f"run:{run_id}"} <= set(graph.nodes)
    assert any(e.target == decision.ref and e.relation == "evidence" and e.source.startswith("dataset:")
               for e in graph.edges)


def test_bad_evidence_writes_nothing(client: Client) -> None:
    run_id, frame = _exploration(client)
    before = row_counts(client)
    with pytest.raises(InvalidInputError, match="metrics.nope"):
        client.note(run_id, "x", evidence=[frame, "metrics.nope"])
    with pytest.raises(InvalidInputError, match="neither a lineage reference"):
        client.note(run_id, "x", evidence=[frame, "plots/missing.png"])
    with pytest.raises(NotFoundError, match="Run"):
        client.note(run_id, "x", evidence=[frame, "run:" + "0" * 32])
    with pytest.raises(NotFoundError, match="Note 999"):
        client.note(run_id, "x", evidence=["note:999"])
    with pytest.raises(InvalidInputError, match="evidence"):
        client.note(run_id, "x", evidence=[object()])
    with pytest.raises(InvalidInputError, match="informs"):
        client.note(run_id, "x", informs=["dataset:abc"])
    with pytest.raises(InvalidInputError, match="informed_by"):
        client.link_informs(run_id, ["dataset:abc"])
    assert row_counts(client) == before


def test_search_notes(client: Client) -> None:
    run_a = client.create_run("churn")
    run_b = client.create_run("fraud")
    first = client.note(run_a.id, "Customers over sixty churn more often", kind="finding")
    client.note(run_a.id, "We assume the labels are correct", kind="assumption")
    third = client.note(run_b.id, "Fraud rises on weekends; churn unrelated", kind="finding")
    client.note(run_b.id, "Café owners behave differently", kind="note")
    assert client.search_notes(text="churn") == [third, first]  # newest first, word prefixes match
    assert client.search_notes(text="CHURN customers") == [first]
    assert client.search_notes(text="churn", experiment="churn") == [first]
    assert client.search_notes(text="churn", kind="assumption") == []
    assert [n.text for n in client.search_notes(kind="assumption")] == ["We assume the labels are correct"]
    assert [n.text for n in client.search_notes(text="café")] == ["Café owners behave differently"]
    if client.tracking_uri.startswith("sqlite"):  # FTS5 folds accents; PostgreSQL's 'simple' config does not
        assert [n.text for n in client.search_notes(text="cafe")] == ["Café owners behave differently"]
    assert client.search_notes(text="weekend", run_id=run_b.id) == [third]
    assert client.search_notes(text="zebra") == []
    assert len(client.search_notes(max_results=2)) == 2
    client.delete_runs([run_b.id])
    assert client.search_notes(text="churn") == [first]
    with pytest.raises(InvalidInputError, match="no words"):
        client.search_notes(text="  !! ")
    with pytest.raises(InvalidInputError, match="max_results"):
        client.search_notes(max_results=0)
    with pytest.raises(NotFoundError, match="experiment"):
        client.search_notes(text="churn", experiment="nope")


def test_search_sees_edited_and_purged_notes(client: Client) -> None:
    run = client.create_run("churn")
    client.note(run.id, 'Quotes "and" operators OR NOT near(x) are plain words', kind="note")
    assert len(client.search_notes(text='"and" OR near(x)')) == 1
    client.delete_runs([run.id])
    client.collect_garbage()
    assert client.search_notes(text="quotes") == []
