"""`runs list` and the read-only `models` commands start fast: dispatched without Typer's coercion (pydantic)
and read without SQLAlchemy on SQLite, with the same output and the same usage errors.

The causes are asserted in fresh processes (no wall-clock limits: benchmarks measure time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import invoke

import trackflow as tf
from trackflow.cli.fast import try_fast
from trackflow.cli.main import _add_optional_groups, app

PROBE = """
import json, sys
from trackflow.cli.main import run
code = 0
try:
    run(sys.argv[1:])
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else 0
heavy = sorted(m for m in ("pydantic", "sqlalchemy", "alembic", "pandas", "skops", "prefect") if m in sys.modules)
print("PROBE " + json.dumps({"code": code, "heavy": heavy}))
"""


@pytest.fixture
def seeded(tracking_home: Path) -> Path:
    for i in range(3):
        with tf.start_run(experiment="churn", run_name=f"run-{i}"):
            tf.log_params({"lr": i})
            tf.log_metric("auc", 0.5 + i / 10)
    from sklearn.linear_model import LogisticRegression

    registry = tf.Client().registry
    registry.register_model(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), "clf")
    registry.set_alias("clf", "champion", 1)
    tf.Client().flush()
    return tracking_home


def _probe(args: list[str]) -> tuple[dict[str, object], str]:
    result = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=dict(os.environ),
                            timeout=300)
    lines = [line for line in result.stdout.splitlines() if line.startswith("PROBE ")]
    assert lines, result.stderr[-3000:]
    return json.loads(lines[-1][len("PROBE "):]), result.stdout


@pytest.mark.parametrize(
    ("args", "shown"),
    [(["runs", "list"], "run-2"), (["runs", "list", "-e", "churn", "-n", "2", "--format=json"], "run-1"),
     (["runs", "list", "--all", "--columns", "status,params.lr"], "FINISHED"), (["models", "list"], "champion=1"),
     (["models", "list", "-f", "csv"], "clf"), (["models", "show", "clf"], "champion"),
     (["models", "versions", "clf", "-f", "json"], "champion"), (["models", "history", "clf", "--version", "1"], "development")],
)  # fmt: skip
def test_listing_imports_neither_pydantic_nor_sqlalchemy(seeded: Path, args: list[str], shown: str) -> None:
    found, out = _probe(args)
    assert found == {"code": 0, "heavy": []}
    assert shown in out


def test_filtered_listing_takes_the_full_path(seeded: Path) -> None:
    found, out = _probe(["runs", "list", "--filter", "metrics.auc > 0.6"])
    assert found["code"] == 0 and "sqlalchemy" in found["heavy"]  # type: ignore[operator]
    assert "run-2" in out and "run-0" not in out


@pytest.mark.parametrize(
    "args",
    [["runs", "list"], ["runs", "list", "-a", "-n", "2"], ["runs", "list", "--experiment", "churn", "--format", "csv"],
     ["runs", "list", "-c", "name,metrics.auc"], ["models", "list", "--format", "json"], ["models", "show", "clf"],
     ["models", "show", "clf", "-f", "json"], ["models", "versions", "clf", "--stage", "development"],
     ["models", "history", "clf", "-f", "csv"]],
)  # fmt: skip
def test_same_output_as_typer(seeded: Path, args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    _add_optional_groups()
    assert try_fast(app, args) is True
    fast = capsys.readouterr().out
    app(args=args, prog_name="trackflow", standalone_mode=False)
    assert fast == capsys.readouterr().out and fast.strip()


@pytest.mark.parametrize(
    "args",
    [["runs", "list", "--help"], ["runs", "list", "--bogus"], ["runs", "list", "-n", "x"], ["runs", "list", "-n"],
     ["runs", "list", "--format", "yaml"], ["runs", "list", "extra"], ["runs", "list", "--all=1"],
     ["runs", "list", "-e", "--all"], ["runs", "show", "abc"], ["runs"], ["models", "show"], ["models", "show", "a", "b"],
     ["models", "show", "--help"], ["models", "history", "clf", "-v", "x"], ["--version"]],
)  # fmt: skip
def test_declines_what_typer_must_handle(tracking_home: Path, args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    _add_optional_groups()
    assert try_fast(app, args) is False
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [(["runs", "list", "--columns", "bogus"], "Invalid value for '--columns'"),
     (["runs", "list", "-n", "x"], "Invalid value for '--max-results'"),
     (["runs", "list", "--format", "yaml"], "'yaml' is not one of"),
     (["runs", "list", "--bogus"], "No such option: --bogus")],
)  # fmt: skip
def test_usage_errors_unchanged(tracking_home: Path, args: list[str], message: str,
                                capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = invoke(args, capsys)
    assert code == 2 and message in err and "Hint: run `trackflow runs list --help`" in err and "Traceback" not in err


def test_unknown_experiment_still_suggests(seeded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = invoke(["runs", "list", "-e", "chrun"], capsys)
    assert code == 1 and "did you mean 'churn'" in err


def test_unknown_model_reported_by_the_fast_path(seeded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    found, _ = _probe(["models", "show", "clff"])
    assert found == {"code": 1, "heavy": []}
    code, _, err = invoke(["models", "versions", "clff"], capsys)
    assert code == 1 and "No registered model named 'clff'. Registered models: clf." in err and "Traceback" not in err
