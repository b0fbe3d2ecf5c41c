"""Exploration runs from a script: kind, notebook recording with an explicit path, figures as evidence."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import trackflow as tf  # noqa: E402
from trackflow.exceptions import InvalidInputError, TrackflowError  # noqa: E402


def _notebook(path: Path) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# Churn exploration"), nbformat.v4.new_code_cell("x = 1 + 1")]
    nbformat.write(notebook, str(path))
    return path


def test_explore_in_a_script_records_no_notebook() -> None:
    with tf.explore("churn", "eda") as run:
        assert tf.active_run_id() == run.id
        tf.log_metric("rows", 4)
    stored = tf.Client().get_run(run.id)
    assert stored.kind == "exploration" and stored.name == "eda" and stored.status.value == "FINISHED"
    assert tf.Client().list_artifacts(run.id, "notebook") == []
    with pytest.raises(TrackflowError, match="No exploration run"):
        tf.snapshot()


def test_plain_call_with_notebook_path_records_ipynb_and_html(tmp_path: Path) -> None:
    path = _notebook(tmp_path / "churn-eda.ipynb")
    run = tf.explore("churn", notebook=path)
    again = tf.explore("churn", notebook=path)  # re-running the cell ends the first exploration
    client = tf.Client()
    assert client.get_run(run.id).status.value == "FINISHED"
    first = {a.path for a in client.list_artifacts(run.id, "notebook")}
    assert first == {"notebook/churn-eda.ipynb", "notebook/churn-eda.html"}
    snap = tf.snapshot()
    assert snap is not None and snap.source == str(path.resolve())
    stored = json.loads(client.read_artifact(again.id, "notebook/churn-eda.ipynb"))
    assert ["".join(c["source"]) for c in stored["cells"]] == ["# Churn exploration", "x = 1 + 1"]
    html = client.read_artifact(again.id, "notebook/churn-eda.html").decode()
    assert "<html" in html and "Churn exploration" in html and "<style" in html
    tf.end_run()
    assert client.get_run(again.id).status.value == "FINISHED"
    with pytest.raises(InvalidInputError, match="No notebook"):
        tf.explore("churn", notebook=tmp_path / "missing.ipynb")


def test_figure_and_frame_as_evidence_of_a_finding() -> None:
    frame = pd.DataFrame({"age": [25, 38, 52, 61, 70], "churned": [0, 0, 1, 1, 1]})
    with tf.explore("churn", "eda") as run:
        tf.log_dataset(frame, "customers")
        figure, axes = plt.subplots()
        axes.scatter(frame["age"], frame["churned"])
        logged = tf.log_figure(figure, "plots/age_vs_churn.png")
        plt.close(figure)
        note = tf.note("Churn rises with age", kind="finding", evidence=[frame, logged])
    client = tf.Client()
    assert [a.path for a in logged.artifacts] == ["plots/age_vs_churn.png", "plots/age_vs_churn.svg"]
    assert client.read_artifact(run.id, "plots/age_vs_churn.png").startswith(b"\x89PNG")
    assert b"<svg" in client.read_artifact(run.id, "plots/age_vs_churn.svg")
    dataset = client.get_datasets(run.id)[0]
    assert dataset.name == "customers"  # the same content: the dataset logged before, not a new one
    assert note.evidence == (dataset.dataset.ref, logged.ref)
    assert note.evidence_names == ("customers", "plots/age_vs_churn.png")
    with pytest.raises(InvalidInputError, match="matplotlib or plotly"):
        client.log_figure(run.id, object(), "plots/x.png")
