"""The benchmark harness runs end to end on tiny sizes and writes its reports.

No wall-clock assertions: only that ``benchmarks/run.py`` produces one JSON entry and one
markdown row per requested workload, with numeric figures.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "benchmarks" / "run.py"
CHEAP = ["log_metric", "log_param", "log_batch", "search_10k"]


@pytest.mark.timeout(300)
def test_quick_run_writes_json_and_markdown(tmp_path: Path) -> None:
    """--quick --only <cheap workloads> writes results.json and results.md, one entry each."""
    out = tmp_path / "results"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKFLOW_")}
    completed = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--repeat", "1", "--only", ",".join(CHEAP), "--out", str(out)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=280, check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]

    report = json.loads((out / "results.json").read_text())
    entries = {entry["name"]: entry for entry in report["results"]}
    assert sorted(entries) == sorted(CHEAP)
    assert report["meta"]["quick"] is True
    for name, entry in entries.items():
        ours = entry["trackflow"]
        assert ours["status"] == "ok", (name, ours.get("reason"))
        assert isinstance(ours["median"], (int, float)) and math.isfinite(ours["median"]) and ours["median"] > 0
        assert all(isinstance(v, (int, float)) for v in ours["samples"])
        assert isinstance(ours["peak_rss_mb"], (int, float)) and ours["peak_rss_mb"] > 0
        assert entry["baseline"] is None  # no --compare-mlflow
    assert entries["log_metric"]["trackflow"]["extras"]["durable"]["min"] == 1
    assert entries["search_10k"]["trackflow"]["extras"]["results"]["min"] == 100

    markdown = (out / "results.md").read_text()
    rows = [line for line in markdown.splitlines() if line.startswith("| ") and not line.startswith("| workload")]
    assert sorted(row.split(":")[0].strip("| ") for row in rows) == sorted(CHEAP)
    assert markdown in completed.stdout


def test_unknown_workload_is_refused(tmp_path: Path) -> None:
    """A typo in --only is a usage error naming the known workloads, not a silent no-op."""
    completed = subprocess.run(
        [sys.executable, str(RUN), "--only", "log_metrc", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert completed.returncode == 2
    assert "log_metrc" in completed.stderr and "log_metric" in completed.stderr
