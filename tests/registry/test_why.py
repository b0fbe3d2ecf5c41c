"""``registry.why(uri)``: a version's chain of reasons, read back from real records.

An exploration run logs the iris data and a finding with evidence; two pipeline runs
(a flow run with a training task run) informed by it register a model with a promotion
policy, the second on more rows. The report of version 2 must hold the promotion values,
the metrics against version 1, the pipeline's decision and the exploration's finding with
their evidence, and the dataset change between the versions.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pytest
import typer
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from trackflow.cli.models_why import why_command
from trackflow.exceptions import NotFoundError
from trackflow.registry.why import why
from trackflow.registry.why_datasets import column_drift
from trackflow.registry.why_render import render_why_markdown, render_why_text
from trackflow.tasks.register import register_and_stage
from trackflow.tracking.client import Client
from trackflow.tracking.entities import Dataset

POLICY = "metrics.accuracy >= production.metrics.accuracy"


@dataclass
class Story:
    exploration_id: str
    finding_id: int
    decision_ids: list[int]
    pipeline_ids: list[str]


def _pipeline(client: Client, frame: pd.DataFrame, exploration_id: str, accuracy: float) -> tuple[str, int]:
    flow = client.create_run("iris", run_name="iris-pipeline", kind="flow")
    client.link_informs(flow.id, [exploration_id])
    decision = client.note(flow.id, "logistic regression: the classes separate linearly", kind="decision")
    train = client.create_run("iris", run_name="train", kind="task", parent_run_id=flow.id)
    features = frame.drop(columns="target")
    client.log_dataset(train.id, features, "features")
    model = LogisticRegression(max_iter=300).fit(features, frame["target"])
    client.log_metric(flow.id, "accuracy", accuracy)
    client.end_run(train.id, "FINISHED")
    register_and_stage(model, "iris-clf", run_id=train.id, client=client, stage="staging", promote_if=POLICY)
    client.end_run(flow.id, "FINISHED")
    return flow.id, decision.id


@pytest.fixture
def story(client: Client) -> Story:
    iris = load_iris(as_frame=True).frame
    exploration = client.create_run("iris", run_name="explore-iris", kind="exploration")
    client.log_metric(exploration.id, "separation", 0.93)
    finding = client.note(exploration.id, "petal width alone separates setosa", kind="finding",
                          evidence=[iris, "metrics.separation"])
    client.end_run(exploration.id, "FINISHED")
    first = _pipeline(client, iris.iloc[:100], exploration.id, 0.90)
    second = _pipeline(client, iris, exploration.id, 0.95)
    return Story(exploration.id, finding.id, [first[1], second[1]], [first[0], second[0]])


def test_why_holds_the_promotion_metrics_notes_and_data_change(client: Client, story: Story) -> None:
    report = why("models:/iris-clf/production", client=client)
    assert (report.name, report.version, report.stage, report.previous_version) == ("iris-clf", 2, "production", 1)
    assert report.pipeline_run_id == story.pipeline_ids[1]

    decision = report.promotion
    assert decision is not None and decision.passed is True and decision.to_stage == "production"
    assert (decision.policy, decision.metric, decision.reference, decision.reference_version) == (
        POLICY, "accuracy", "production", 1)
    assert (decision.candidate_value, decision.reference_value) == (0.95, 0.90)
    assert [d.to_stage for d in report.decisions] == ["development", "staging", "production"]

    metrics = {m.key: m for m in report.metrics}
    assert (metrics["accuracy"].value, metrics["accuracy"].previous) == (0.95, 0.90)
    assert metrics["accuracy"].delta == pytest.approx(0.05)

    pipeline = report.notes_of("pipeline")
    assert [n.id for n in pipeline] == [story.decision_ids[1]]  # not version 1's pipeline's decision
    assert pipeline[0].kind == "decision" and pipeline[0].run_kind == "flow"
    exploration = report.notes_of("exploration")
    assert [n.id for n in exploration] == [story.finding_id]
    finding = exploration[0]
    assert finding.run_id == story.exploration_id and finding.run_kind == "exploration"
    kinds = {e.kind: e for e in finding.evidence}
    assert kinds["dataset"].detail == "150 rows x 5 columns"
    assert kinds["run"].detail == "metrics.separation = 0.93"
    assert report.informed_by == (f"run:{story.exploration_id}",)

    (data,) = report.datasets
    assert (data.name, data.status, data.previous_rows, data.rows) == ("features", "changed", 100, 150)
    assert data.previous_fingerprint != data.fingerprint
    drifted = {c.column: c for c in data.drift}
    assert drifted["petal length (cm)"].change == "shift" and drifted["petal length (cm)"].score is not None
    assert drifted["petal length (cm)"].score > 0.5  # versicolor/virginica rows came in: longer petals

    text = render_why_text(report)
    for expected in ("Why models:/iris-clf/2 (production)", "policy passed: " + POLICY,
                     "candidate accuracy = 0.95 >= production v1 accuracy = 0.9",
                     "[decision] logistic regression", "[finding] petal width alone separates setosa",
                     "evidence: dataset", "metrics.separation = 0.93", "rows 100 -> 150 (+50)",
                     "column petal length (cm): shift"):
        assert expected in text, expected
    markdown = render_why_markdown(report, link=lambda ref: f"/lineage?ref={ref}")
    assert "### Promotion decision" in markdown and "| accuracy | 0.95 | 0.9 | +0.05 |" in markdown
    assert f"[note:{story.finding_id}](/lineage?ref=note:{story.finding_id})" in markdown


def test_the_model_card_carries_the_same_section(client: Client, story: Story) -> None:
    from trackflow.dashboard.model_card import render_model_card

    card = render_model_card(client, "iris-clf", 2)
    section = card[card.index("## Why this model?"):card.index("## Stage history")]
    assert "### Promotion decision" in section and "policy passed: " + POLICY in section
    assert "petal width alone separates setosa" in section and "rows 100 -> 150 (+50)" in section
    assert "### Stage history" not in section  # the card has its own


def test_first_version_and_uri_forms(client: Client, story: Story) -> None:
    first = why("models:/iris-clf/1", client=client)
    assert first.previous_version is None and first.stage == "archived"
    assert [d.status for d in first.datasets] == ["first"]
    assert first.metrics[0].previous is None and first.metrics[0].delta is None
    assert [n.id for n in first.notes_of("pipeline")] == [story.decision_ids[0]]
    client.registry.set_alias("iris-clf", "champion", 2)
    assert why("models:/iris-clf@champion", client=client).aliases == ("champion",)
    assert why("models:/iris-clf/latest", client=client).version == 2
    assert why("models:/iris-clf/production", client=client).to_dict()["uri"] == "models:/iris-clf/2"
    with pytest.raises(NotFoundError):
        why("models:/iris-clf/7", client=client)
    with pytest.raises(NotFoundError):
        why("models:/no-such-model/1", client=client)


def test_the_registry_client_answers_why(client: Client, story: Story) -> None:
    assert client.registry.why("models:/iris-clf/2").notes_of("exploration")[0].id == story.finding_id


def test_models_why_command_prints_the_chain(client: Client, story: Story) -> None:
    app = typer.Typer()
    app.command("why")(why_command)
    app.command("noop")(lambda: None)  # a group, so that "why" is a subcommand as in `trackflow models`
    result = CliRunner().invoke(app, ["why", "models:/iris-clf/production"])
    assert result.exit_code == 0, result.output
    assert "promote_if passed" in result.output and "petal width alone separates setosa" in result.output
    assert "changed since version 1" in result.output
    as_json = CliRunner().invoke(app, ["why", "models:/iris-clf/2", "--format", "json"])
    assert as_json.exit_code == 0 and '"previous_version": 1' in as_json.output


def _dataset(profile: dict[str, dict[str, object]], fingerprint: str = "sha256:x") -> Dataset:
    from datetime import datetime, timezone

    schema = [{"name": k, "dtype": str(v.get("dtype"))} for k, v in profile.items()]
    return Dataset(id="d", fingerprint=fingerprint, name="d", kind="dataframe", schema=schema, num_rows=10,
                   num_columns=len(profile), profile={"columns": profile}, source=None, size_bytes=None,
                   created_at=datetime.now(timezone.utc))


def test_column_drift_names_added_removed_retyped_shifted_columns() -> None:
    before = _dataset({"a": {"dtype": "float64", "mean": 1.0, "std": 1.0, "null_count": 0},
                       "b": {"dtype": "int64", "mean": 5.0, "std": 2.0},
                       "c": {"dtype": "object", "distinct": 3, "null_count": 0},
                       "gone": {"dtype": "int64"}})
    now = _dataset({"a": {"dtype": "float64", "mean": 1.05, "std": 1.0, "null_count": 2},
                    "b": {"dtype": "float64", "mean": 5.0, "std": 2.0},
                    "c": {"dtype": "object", "distinct": 4, "null_count": 0},
                    "new": {"dtype": "bool"}})
    changes = {c.column: (c.change, c.before, c.now) for c in column_drift(before, now)}
    assert changes == {"new": ("added", None, "bool"), "gone": ("removed", "int64", None),
                       "a": ("nulls", "0", "2"),  # a mean move of 0.05 sd is below the threshold
                       "b": ("dtype", "int64", "float64"), "c": ("categories", "3", "4")}
