"""The command line: runs, experiments, db, errors as one line with exit code 1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import invoke

import trackflow as tf
from trackflow.tracking.store.migrate import SCHEMA_HEAD


@pytest.fixture
def seeded(tracking_home: Path) -> dict[str, str]:
    ids = {}
    for name, loss in (("good", 0.1), ("bad", 0.9)):
        with tf.start_run(experiment="churn", run_name=name) as run:
            tf.log_params({"model": "rf"})
            tf.log_metric("loss", loss)
            tf.note(f"{name} note", kind="finding")
        ids[name] = run.id
    return ids


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = invoke(["--version"], capsys)
    assert code == 0 and out.strip() == f"trackflow {tf.__version__}"


def test_runs_list_formats(seeded: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = invoke(["runs", "list", "--experiment", "churn", "--filter", "metrics.loss < 0.5"], capsys)
    assert code == 0 and seeded["good"] in out and seeded["bad"] not in out
    code, out, _ = invoke(["runs", "list", "--order-by", "metrics.loss DESC", "--format", "json"], capsys)
    rows = json.loads(out)
    assert [r["id"] for r in rows] == [seeded["bad"], seeded["good"]]
    code, out, _ = invoke(["runs", "list", "--format", "csv"], capsys)
    lines = out.strip().splitlines()
    assert lines[0].startswith("run_id,") and "metrics.loss" in lines[0] and len(lines) == 3


def test_runs_show_and_notes(seeded: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = invoke(["runs", "show", seeded["good"]], capsys)
    assert code == 0 and "loss" in out and "0.1" in out and "FINISHED" in out
    code, out, _ = invoke(["runs", "notes", seeded["good"]], capsys)
    assert code == 0 and "finding" in out and "good note" in out


def test_experiments_list(seeded: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = invoke(["experiments", "list", "--format", "json"], capsys)
    assert code == 0 and [e["name"] for e in json.loads(out)] == ["churn"]


def test_errors_are_one_line_with_hint_and_exit_1(seeded: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = invoke(["runs", "list", "--filter", "metrics.loss <"], capsys)
    assert code == 1 and err.startswith("Error: ") and "Traceback" not in err and "Hint:" in err
    code, _, err = invoke(["runs", "show", "f" * 32], capsys)
    assert code == 1 and "does not exist" in err
    code, _, err = invoke(["--debug", "runs", "show", "f" * 32], capsys)
    assert code == 1 and "Traceback" in err


def test_db_upgrade_and_current(tracking_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = invoke(["db", "upgrade"], capsys)
    assert code == 0 and "Upgraded" in out
    code, out, _ = invoke(["db", "upgrade"], capsys)
    assert code == 0 and "already at revision" in out
    code, out, _ = invoke(["db", "current"], capsys)
    assert code == 0 and f"current: {SCHEMA_HEAD}" in out


def test_console_script_runs(tracking_home: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "trackflow.cli.main", "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "runs" in out.stdout and "experiments" in out.stdout
