"""A real notebook driven by nbclient (an ipykernel kernel): explore, a finding with a
DataFrame and a figure as evidence, the notebook and its HTML copy recorded."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from trackflow.tracking.client import Client

CELLS = [
    "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\nimport trackflow as tf\n"
    "from sklearn.datasets import load_iris",
    "%load_ext trackflow\nrun = tf.explore('iris-exploration', 'eda')",
    "frame = load_iris(as_frame=True).frame\ntf.log_dataset(frame, 'iris')\n"
    "figure, axes = plt.subplots()\naxes.scatter(frame['petal length (cm)'], frame['target'])\n"
    "petal = tf.log_figure(figure, 'plots/petal.png')\n"
    "finding = tf.note('Petal length separates setosa from the rest', kind='finding', evidence=[frame, petal])\n"
    "print(run.id, finding.ref)",
    "%snapshot",
    "tf.end_run()",
]


def _execute(path: Path) -> tuple[str, str]:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    nbformat.write(notebook, str(path))
    executed = nbformat.read(str(path), as_version=4)
    NotebookClient(executed, kernel_name="python3", timeout=300,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    run_id, note_ref = executed.cells[2].outputs[0]["text"].split()
    return run_id, note_ref


def test_notebook_found_through_trackflow_notebook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "iris-eda.ipynb"
    monkeypatch.setenv("TRACKFLOW_NOTEBOOK", str(path))  # nbclient sets no session variable: say which file
    run_id, note_ref = _execute(path)
    client = Client()
    run = client.get_run(run_id)
    assert run.kind == "exploration" and run.status.value == "FINISHED" and run.experiment_name == "iris-exploration"
    files = {a.path for a in client.list_artifacts(run_id)}
    assert {"notebook/iris-eda.ipynb", "notebook/iris-eda.html", "plots/petal.png", "plots/petal.svg"} <= files
    recorded = nbformat.reads(client.read_artifact(run_id, "notebook/iris-eda.ipynb").decode(), as_version=4)
    assert [c.source for c in recorded.cells] == CELLS
    assert "Petal length separates setosa" in client.read_artifact(run_id, "notebook/iris-eda.html").decode()
    note = client.get_note(note_ref)
    dataset = client.get_datasets(run_id)[0].dataset
    figure = client.list_artifacts(run_id, "plots/petal.png")[0]
    assert note.kind.value == "finding"
    assert note.evidence == (dataset.ref, f"artifact:{figure.uri}")
    graph = client.lineage(note_ref, direction="upstream")
    assert [(e.source, e.relation) for e in graph.edges if e.target == note_ref] == [
        (dataset.ref, "evidence"), (f"artifact:{figure.uri}", "evidence")]


def test_without_a_notebook_file_the_session_history_is_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRACKFLOW_NOTEBOOK", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    run_id, _ = _execute(tmp_path / "unnamed.ipynb")
    client = Client()
    assert {a.path for a in client.list_artifacts(run_id, "notebook")} == {"notebook/session.ipynb", "notebook/session.html"}
    recorded = nbformat.reads(client.read_artifact(run_id, "notebook/session.ipynb").decode(), as_version=4)
    assert [c.source for c in recorded.cells][:3] == CELLS[:3]
