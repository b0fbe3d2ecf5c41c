"""``trackflow notes search`` (the command module; main.py registers it as the ``notes`` group)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from trackflow.cli.notes import app
from trackflow.tracking.client import Client


def test_notes_search_prints_matches_with_evidence(tracking_home: Path) -> None:
    client = Client()
    run = client.create_run("churn", kind="exploration")
    client.log_metric(run.id, "auc", 0.9)
    finding = client.note(run.id, "Tenure predicts churn", kind="finding", evidence=["metrics.auc"])
    client.note(run.id, "Labels assumed clean", kind="assumption")
    client.create_run("fraud")
    root = typer.Typer()
    root.add_typer(app, name="notes")  # as trackflow.cli.main registers it
    runner = CliRunner()
    result = runner.invoke(root, ["notes", "search", "tenure", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["id"], r["kind"], r["evidence"]) for r in rows] == [(finding.ref, "finding", f"run:{run.id} (metrics.auc)")]
    result = runner.invoke(root, ["notes", "search", "--kind", "assumption", "--experiment", "churn", "--format", "csv"])
    assert result.exit_code == 0 and "Labels assumed clean" in result.output and "Tenure" not in result.output
    result = runner.invoke(root, ["notes", "search", "zebra"])
    assert result.exit_code == 0 and "No notes found." in result.output
