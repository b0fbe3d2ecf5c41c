"""``trackflow quickstart``, ``run`` and ``rerun`` through the command line (in process)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cli_helpers import invoke

import trackflow as tf


def write_spec(folder: Path) -> Path:
    from sklearn.datasets import load_wine

    (folder / "data").mkdir(parents=True, exist_ok=True)
    load_wine(as_frame=True).frame.rename(columns={"target": "cultivar"}).to_csv(folder / "data/wine.csv", index=False)
    spec = folder / "trackflow.yaml"
    spec.write_text(
        "name: wine-retrain\n"
        "experiment: wine\n"
        "parameters:\n"
        "  data: data/wine.csv\n"
        "  target: cultivar\n"
        "  estimator: sklearn.tree.DecisionTreeClassifier\n"
        "  estimator_params: {max_depth: 3}\n"
        "model:\n"
        "  name: wine-clf\n"
        "  promote_if: metrics.accuracy >= production.metrics.accuracy\n"
    )
    return spec


@pytest.mark.usefixtures("prefect_harness")
def test_quickstart_trains_registers_stages_and_explains(
    tracking_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = invoke(["quickstart"], capsys)
    assert code == 0, err
    run_id = re.search(r"^Run ([0-9a-f]{32}) ", out, re.MULTILINE)
    assert run_id is not None, out
    run = tf.Client().get_run(run_id.group(1))
    assert run.experiment_name == "quickstart" and run.status.value == "FINISHED"
    for fragment in ("Metrics:", "roc_auc", "Lineage:", "model_version quickstart-classifier v1", "--contains--> run",
                     "Registered model: quickstart-classifier version 1, stage production",
                     "staging -> production: promote_if passed",
                     "trackflow serve models:/quickstart-classifier@production",
                     "Prefect dashboard"):
        assert fragment in out, fragment
    assert f"{run.metrics['roc_auc']:.6g}" in out


@pytest.mark.usefixtures("prefect_harness")
def test_run_then_rerun_reproduces_parameters_and_reports_the_changed_file(
    tracking_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = write_spec(tmp_path)
    code, out, err = invoke(["run", str(spec), "-P", "estimator_params.max_depth=2", "-P", "test_size=0.3"], capsys)
    assert code == 0, err
    first_id = re.search(r"^Run ([0-9a-f]{32}) ", out, re.MULTILINE).group(1)  # type: ignore[union-attr]
    client = tf.Client()
    first = client.get_run(first_id)
    assert first.experiment_name == "wine" and first.tags["trackflow.spec_name"] == "wine-retrain"
    assert first.params["test_size"] == "0.3" and first.params["estimator_params"] == '{"max_depth": 2}'
    assert "Registered model: wine-clf version 1, stage production" in out

    code, out, err = invoke(["rerun", first_id, "--dry-run"], capsys)
    assert code == 0, err
    assert "No differences in code version, data or package versions." in out, out

    data = tmp_path / "data/wine.csv"
    data.write_text(data.read_text() + data.read_text().splitlines()[1] + "\n")  # one more row
    code, out, err = invoke(["rerun", first_id], capsys)
    assert code == 0, err
    report = out.split("Run ", 1)[0]
    assert f"data: {data.resolve()}: sha256:" in report and "Differences since the original run (1)" in report
    assert "test_size = 0.3" in report and "estimator_params = {'max_depth': 2}" in report
    second = client.get_run(re.search(r"^Run ([0-9a-f]{32}) ", out, re.MULTILINE).group(1))  # type: ignore[union-attr]
    assert second.id != first.id and second.tags["trackflow.rerun_of"] == first.id
    assert second.experiment_name == "wine" and second.params == first.params
    assert client.registry.get_version("wine-clf", 2).run_id == second.id


@pytest.mark.usefixtures("prefect_harness")
def test_run_rejects_bad_specs_and_parameters_with_the_line(
    tracking_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = write_spec(tmp_path)
    spec.write_text(spec.read_text().replace("  target: cultivar\n", "  target: cultivar\n  depth: 3\n"))
    code, _, err = invoke(["run", str(spec)], capsys)
    assert code == 1 and "line 6" in err and "no parameter 'depth'" in err and "Hint:" in err
    spec.write_text(spec.read_text().replace("  depth: 3\n", "").replace("DecisionTreeClassifier", "Nope"))
    code, _, err = invoke(["run", str(spec)], capsys)
    assert code == 1 and "line 6" in err and "no estimator class 'Nope'" in err
    code, _, err = invoke(["run", str(spec), "-P", "bogus"], capsys)
    assert code == 1 and "-P key=value" in err
    assert tf.Client().search_runs() == []  # nothing was written


def test_rerun_of_an_unknown_run_fails_cleanly(tracking_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = invoke(["rerun", "0" * 32], capsys)
    assert code == 1 and "does not exist" in err


@pytest.mark.usefixtures("prefect_harness")
def test_a_spec_can_run_a_flow_from_a_file_and_rerun_it(
    tracking_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines/custom.py").write_text(
        "import trackflow\n\n\n"
        "@trackflow.flow(name='custom-flow')\n"
        "def custom(n: int = 1, label: str = 'x') -> dict:\n"
        "    trackflow.log_metric('double', 2 * n)\n"
        "    return {'n': n}\n"
    )
    spec = tmp_path / "trackflow.yaml"
    spec.write_text("name: custom\nflow: pipelines/custom.py:custom\nparameters:\n  n: 4\n")
    code, out, err = invoke(["run", str(spec), "-P", "label=y"], capsys)
    assert code == 0, err
    run = tf.Client().get_run(re.search(r"^Run ([0-9a-f]{32}) ", out, re.MULTILINE).group(1))  # type: ignore[union-attr]
    assert run.metrics["double"] == 8 and run.params["label"] == "y"
    assert run.tags["trackflow.flow_entrypoint"] == f"{(tmp_path / 'pipelines/custom.py').resolve()}:custom"
    code, out, err = invoke(["rerun", run.id], capsys)
    assert code == 0, err
    assert "n = 4" in out and "label = 'y'" in out and "No differences" in out
    (tmp_path / "pipelines/custom.py").write_text((tmp_path / "pipelines/custom.py").read_text() + "# edited\n")
    code, out, err = invoke(["rerun", run.id, "--dry-run"], capsys)
    assert code == 0, err
    assert "code: source of flow 'custom-flow'" in out, out
