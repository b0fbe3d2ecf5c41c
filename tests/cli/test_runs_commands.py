"""runs list (top-level, --all, --columns, fitted to the terminal), runs show, runs diff,
artifacts list/download and lineage roots that must exist."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import invoke

import trackflow as tf
from trackflow.tracking.client import Client


@pytest.fixture
def seeded(tracking_home: Path, tmp_path: Path) -> dict[str, str]:
    ids: dict[str, str] = {}
    for name, lr in (("baseline", 0.1), ("tuned", 0.05)):
        with tf.start_run(experiment="churn", run_name=name) as run:
            tf.log_params({"lr": lr, "model": "gradient-boosting-with-a-long-descriptive-name"})
            for step in range(8):
                tf.log_metric("auc", 0.5 + lr * step, step=step)
            tf.note(f"{name} looks fine", kind="finding")
            tf.log_dataset(pd.DataFrame({"x": [1, 2, 3], "y": [lr, lr, lr]}), "train")
            report = tmp_path / f"{name}.txt"
            report.write_text(f"report of {name}\n")
            tf.log_artifact(report, "reports")
            with tf.start_run(experiment="churn", run_name=f"{name}-step", nested=True) as child:
                tf.log_metric("rows", 3)
        ids[name], ids[f"{name}-step"] = run.id, child.id
    return ids


def test_list_shows_top_level_runs_unless_all(seeded: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = invoke(["runs", "list"], capsys)
    assert code == 0 and seeded["baseline"] in out and seeded["tuned"] in out
    assert seeded["baseline-step"] not in out and seeded["tuned-step"] not in out
    code, out, _ = invoke(["runs", "list", "--all", "--format", "json"], capsys)
    assert {r["id"] for r in json.loads(out)} == set(seeded.values())
    code, out, _ = invoke(["runs", "list", "--format", "json"], capsys)
    assert {r["id"] for r in json.loads(out)} == {seeded["baseline"], seeded["tuned"]}


@pytest.mark.parametrize("width", [60, 80, 200])
def test_table_fits_the_terminal(
    width: int, seeded: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", str(width))
    code, out, _ = invoke(["runs", "list", "--all"], capsys)
    lines = out.rstrip("\n").splitlines()
    assert code == 0 and len(lines) == 5
    assert max(len(line) for line in lines) <= width
    assert all(run_id in out for run_id in seeded.values())  # ids are never cut
    if width == 200:
        assert "gradient-boosting-with-a-long-descriptive-name" in out


def test_columns(seeded: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = invoke(["runs", "list", "--columns", "params.lr,metrics.auc"], capsys)
    header, *rows = out.strip().splitlines()
    assert code == 0 and header.split() == ["RUN_ID", "NAME", "PARAMS.LR", "METRICS.AUC"]
    assert any(row.split()[1:] == ["tuned", "0.05", "0.85"] for row in rows), rows
    code, out, _ = invoke(["runs", "list", "-c", "status,params.lr", "--format", "csv"], capsys)
    assert out.splitlines()[0] == "run_id,name,status,params.lr"


def test_unknown_experiment_is_an_error(seeded: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    for extra in ([], ["--all"]):
        code, out, err = invoke(["runs", "list", "--experiment", "chrun", *extra], capsys)
        assert code == 1 and "No experiment 'chrun'; did you mean 'churn'?" in err and out == ""


def test_show_by_name_with_notes_datasets_artifacts_children_and_sparklines(
    seeded: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = invoke(["runs", "show", "tuned"], capsys)
    assert code == 0 and f"Run {seeded['tuned']}" in out
    for expected in ("notes:", "tuned looks fine", "datasets:", "train", "artifacts:", "reports/tuned.txt",
                     "child runs:", seeded["tuned-step"], "▁", "(8 values)"):  # fmt: skip
        assert expected in out, expected
    code, out, _ = invoke(["runs", "show", seeded["tuned"][:8], "--metric", "auc", "--format", "json"], capsys)
    assert code == 0 and [row["step"] for row in json.loads(out)] == list(range(8))
    code, _, err = invoke(["runs", "show", "tuned", "--metric", "acu"], capsys)
    assert code == 1 and "did you mean 'auc'?" in err


def test_diff(seeded: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = invoke(["runs", "diff", "baseline", "tuned", "--format", "json"], capsys)
    found = {(d["kind"], d["what"]): (d["before"], d["now"]) for d in json.loads(out)["differences"]}
    assert code == 0 and found[("params", "lr")] == ("0.1", "0.05") and ("params", "model") not in found
    assert ("metrics", "auc") in found and ("data", "train") in found
    code, out, _ = invoke(["runs", "diff", "baseline", "baseline"], capsys)
    assert code == 0 and "No differences" in out
    code, out, _ = invoke(["runs", "diff", seeded["baseline"], "tuned"], capsys)
    assert "params:" in out and "lr: 0.1 -> 0.05" in out and "data:" in out


def test_client_diff_matches_the_rerun_differences(seeded: dict[str, str]) -> None:
    from trackflow.tracking.differences import differences_between
    from trackflow.tracking.run_diff import diff_runs, input_datasets

    client = Client()
    a, b = client.get_run(seeded["baseline"]), client.get_run(seeded["tuned"])
    result = diff_runs(client, a, b)
    shared = differences_between(a, b, before_data=input_datasets(client, a), now_data=input_datasets(client, b))
    assert [d for d in result.differences if d.kind in ("code", "data", "packages")] == shared


def test_artifacts_list_and_download(seeded: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = invoke(["artifacts", "list", "tuned"], capsys)
    assert code == 0 and "reports/tuned.txt" in out
    code, out, err = invoke(["artifacts", "list", "tuned", "nothing/here"], capsys)
    assert code == 1 and "no artifact" in err
    target = tmp_path / "out"
    code, out, _ = invoke(["artifacts", "download", seeded["tuned"][:10], "reports", "-o", str(target)], capsys)
    assert code == 0 and (target / "reports" / "tuned.txt").read_text() == "report of tuned\n"


def test_lineage_roots_must_exist(seeded: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = invoke(["lineage", "f" * 32], capsys)
    assert code == 1 and "does not exist" in err
    code, _, err = invoke(["lineage", "dataset:sha256:000000000000"], capsys)
    assert code == 1 and "No dataset" in err
    fingerprint = Client().get_datasets(seeded["tuned"])[0].dataset.fingerprint
    code, out, _ = invoke(["lineage", f"dataset:{fingerprint[:19]}", "--format", "json"], capsys)
    graph = json.loads(out)
    assert code == 0 and graph["root"] == f"dataset:{fingerprint}" and len(graph["nodes"]) > 1
    code, out, _ = invoke(["lineage", "tuned", "--format", "json"], capsys)
    assert code == 0 and json.loads(out)["root"] == f"run:{seeded['tuned']}"


def test_lineage_takes_model_aliases_and_stages(seeded: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    from sklearn.linear_model import LogisticRegression

    registry = Client().registry
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})
    registry.register_model(LogisticRegression().fit(frame, [0, 1, 0, 1]), "refs-clf", run_id=seeded["tuned"])
    registry.set_alias("refs-clf", "champion", 1)
    registry.transition("refs-clf", 1, "staging")
    for ref in ("models:/refs-clf@champion", "models:/refs-clf/staging", "models:/refs-clf/1"):
        code, out, err = invoke(["lineage", ref, "--format", "json"], capsys)
        assert code == 0, err
        assert json.loads(out)["root"] == "model:refs-clf/1"
    code, _, err = invoke(["lineage", "models:/refs-clf@nobody"], capsys)
    assert code == 1 and "Error:" in err and "Traceback" not in err
