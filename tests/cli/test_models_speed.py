"""What makes ``trackflow models ...`` and ``register_model`` slow, checked in fresh processes:
read commands import neither pandas nor skops and start no warm-up thread; the register
task called outside a flow starts no Prefect server and prints no warning.

No wall-clock limits (benchmarks/cli_bench.py measures time): the causes are asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from trackflow.tracking.client import Client

# Runs the CLI in this process, then reports what it imported and which threads it started.
CLI_PROBE = """
import json, sys, threading
from trackflow.cli.main import run
code = 0
try:
    run(sys.argv[1:])
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else 0
heavy = sorted(m for m in ("pandas", "skops", "sklearn", "prefect") if m in sys.modules)
threads = sorted(t.name for t in threading.enumerate() if t is not threading.main_thread())
print("PROBE " + json.dumps({"code": code, "heavy": heavy, "threads": threads}))
"""

REGISTER_OUTSIDE_A_FLOW = """
import json, sys
import pandas as pd
from sklearn.linear_model import LogisticRegression
from trackflow.tasks import register_model

frame = pd.DataFrame({"age": [25, 40, 33, 51], "spend": [1.0, 9.5, 3.2, 7.7]})
version = register_model(LogisticRegression().fit(frame, [0, 1, 0, 1]), "outside")
server = sorted(m for m in sys.modules if m.startswith("prefect.server") or m.split(".")[0] == "uvicorn")
print("PROBE " + json.dumps({"version": version.version, "stage": version.stage.value, "server": server}))
"""


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKFLOW_", "PREFECT_"))}
    env.update(TRACKFLOW_HOME=str(home / "trackflow"), PREFECT_HOME=str(home / "prefect"),
               PREFECT_SERVER_ANALYTICS_ENABLED="false")
    return env


def _probe(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    lines = [line for line in result.stdout.splitlines() if line.startswith("PROBE ")]
    assert result.returncode == 0 and lines, result.stdout[-2000:] + result.stderr[-3000:]
    found: dict[str, object] = json.loads(lines[-1][len("PROBE "):])
    return found


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A store with one registered model (with an alias and a staging version)."""
    from trackflow.tracking.stores import close_stores

    for key, value in _env(tmp_path).items():
        if key.startswith(("TRACKFLOW_", "PREFECT_")):
            monkeypatch.setenv(key, value)
    frame = pd.DataFrame({"age": [25, 40, 33, 51], "spend": [1.0, 9.5, 3.2, 7.7]})
    registry = Client().registry
    registry.register_model(LogisticRegression().fit(frame, [0, 1, 0, 1]), "churn-clf")
    registry.set_alias("churn-clf", "champion", 1)
    close_stores()
    return tmp_path


@pytest.mark.parametrize(
    ("args", "shown"),
    [(["models", "list"], "champion=1"), (["models", "show", "churn-clf"], "champion"),
     (["models", "versions", "churn-clf"], "champion"), (["models", "history", "churn-clf"], "development"),
     (["models", "list", "--format", "json"], '"churn-clf"')],
)
def test_read_commands_import_neither_pandas_nor_skops(home: Path, args: list[str], shown: str) -> None:
    result = subprocess.run([sys.executable, "-c", CLI_PROBE, *args], env=_env(home), capture_output=True,
                            text=True, timeout=120)
    probe = _probe(result)
    assert probe["code"] == 0 and shown in result.stdout, result.stdout
    assert probe["heavy"] == [], f"{args} imported {probe['heavy']}"
    assert probe["threads"] == [], f"{args} started {probe['threads']}"


def test_register_model_outside_a_flow_starts_no_prefect_server(home: Path) -> None:
    env = _env(home)
    env.pop("PREFECT_API_URL", None)
    result = subprocess.run([sys.executable, "-c", REGISTER_OUTSIDE_A_FLOW], env=env, capture_output=True,
                            text=True, timeout=300)
    probe = _probe(result)
    assert (probe["version"], probe["stage"], probe["server"]) == (1, "development", [])
    output = result.stdout + result.stderr
    assert "UserWarning" not in output and "send logs to the API" not in output, result.stderr
    assert "temporary server" not in output, output
    assert Client().registry.get_version("outside", 1).run_id  # recorded in the same store
