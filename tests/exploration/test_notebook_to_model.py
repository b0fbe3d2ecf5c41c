"""From a notebook to a model, and back: "why this model?" answered from the records.

A real notebook, executed by nbclient on an ipykernel kernel, explores scikit-learn's iris
data in an exploration run: it logs the data, draws a figure, and writes a finding with the
DataFrame and the figure as evidence. A tracked Prefect pipeline ``informed_by`` that
exploration trains, evaluates and registers a model with a promotion policy, twice: the
second time on more rows. ``trackflow models why`` on version 2 then prints the finding
(with its evidence), the decision noted in the pipeline, the promotion's compared values
and how the training data changed between the versions; the notebook and its HTML copy
are artifacts of the exploration run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import pytest
from cli_helpers import invoke
from nbclient import NotebookClient
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import trackflow as tf
from trackflow import flow, task
from trackflow.tracking.client import Client

FINDING = "Petal length alone separates setosa from the other species"
DECISION = "Logistic regression on all four measurements: the exploration found the classes linearly separable"
POLICY = "metrics.accuracy >= production.metrics.accuracy - 0.05"
NOTEBOOK = [
    "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\nimport trackflow as tf\n"
    "from sklearn.datasets import load_iris",
    "run = tf.explore('iris', 'iris-eda')",
    "frame = load_iris(as_frame=True).frame\n"
    "figure, axes = plt.subplots()\n"
    "axes.scatter(frame['petal length (cm)'], frame['petal width (cm)'], c=frame['target'])\n"
    "petal = tf.log_figure(figure, 'plots/petals.png')\n"
    f"finding = tf.note({FINDING!r}, kind='finding', evidence=[frame, petal])\n"
    "print(run.id, finding.ref)",
    "tf.end_run()",
]


@pytest.fixture(autouse=True)
def _prefect(prefect_harness: None) -> Iterator[None]:
    """The session's Prefect API (the pipeline is a real tracked flow)."""
    yield


def _run_notebook(folder: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """Execute the exploration notebook; the exploration run's id and the finding's ref."""
    path = folder / "iris-eda.ipynb"
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in NOTEBOOK]
    nbformat.write(notebook, str(path))
    monkeypatch.setenv("TRACKFLOW_NOTEBOOK", str(path))  # the kernel inherits it: nbclient names no session
    executed = nbformat.read(str(path), as_version=4)
    NotebookClient(executed, kernel_name="python3", timeout=300,
                   resources={"metadata": {"path": str(folder)}}).execute()
    run_id, note_ref = executed.cells[2].outputs[0]["text"].split()
    return run_id, note_ref


def _pipeline(exploration_id: str) -> Any:
    """The tracked training pipeline, informed by the exploration run."""

    @task
    def load(rows: int) -> pd.DataFrame:
        return load_iris(as_frame=True).frame.iloc[:rows]  # sorted by species: the first 90 rows lack virginica

    @task
    def train(frame: pd.DataFrame) -> LogisticRegression:
        return LogisticRegression(max_iter=500).fit(frame.drop(columns="target"), frame["target"])

    @task
    def evaluate(model: LogisticRegression, frame: pd.DataFrame) -> dict[str, float]:
        return {"accuracy": float(model.score(frame.drop(columns="target"), frame["target"]))}

    @flow(name="iris-training", experiment="iris", informed_by=[exploration_id])
    def iris_training(rows: int) -> Any:
        from trackflow.tasks import register_model

        tf.note(DECISION, kind="decision")
        frame = load(rows)
        model = train(frame)
        evaluate(model, frame)
        return register_model(model, name="iris-clf", stage="staging", promote_if=POLICY)

    return iris_training


def test_why_version_2_reaches_back_to_the_notebook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    exploration_id, finding_ref = _run_notebook(tmp_path, monkeypatch)
    client = Client()
    exploration = client.get_run(exploration_id)
    assert exploration.kind == "exploration" and exploration.status.value == "FINISHED"
    files = {a.path for a in client.list_artifacts(exploration_id)}
    assert {"notebook/iris-eda.ipynb", "notebook/iris-eda.html", "plots/petals.png"} <= files
    assert FINDING in client.read_artifact(exploration_id, "notebook/iris-eda.html").decode()

    pipeline = _pipeline(exploration_id)
    first = pipeline(90)
    second = pipeline(150)  # the data grew between the two registrations
    assert (first.version, second.version) == (1, 2) and second.stage.value == "production"

    code, printed, err = invoke(["models", "why", "models:/iris-clf/2"], capsys)
    assert code == 0, err
    # the finding from the notebook, with its evidence: the DataFrame and the figure
    assert f"[finding] {FINDING}" in printed and "(exploration" in printed
    assert "evidence: dataset" in printed and "150 rows x 5 columns" in printed
    assert "evidence: artifact plots/petals.png" in printed
    assert "column petal length (cm): shift" in printed  # virginica came in: longer petals
    assert finding_ref in printed
    # the decision noted in the pipeline
    assert f"[decision] {DECISION}" in printed
    # the promotion and the values it compared
    report = client.registry.why("models:/iris-clf/2")
    decision = report.promotion
    assert decision is not None and decision.passed and decision.reference_version == 1
    assert decision.candidate_value is not None and decision.reference_value is not None
    assert f"policy passed: {POLICY}" in printed
    assert (f"candidate accuracy = {decision.candidate_value:.6g} >= production v1 accuracy = "
            f"{decision.reference_value:.6g}") in printed
    # the change of the training data between version 1 and version 2
    assert "changed since version 1" in printed and "rows 90 -> 150 (+60)" in printed
    changed = [d for d in report.datasets if d.status == "changed"]
    assert changed and all(d.previous_fingerprint != d.fingerprint for d in changed)
    assert f"run:{exploration_id}" in report.informed_by
