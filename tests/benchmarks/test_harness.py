"""The benchmark harness runs end to end on tiny sizes and writes its reports.

No wall-clock assertions: only that ``benchmarks/run.py`` produces the entries and markdown
rows it should, with numeric figures, and that its measurement rules hold (until-durable
timings contain the queued calls and end_run; durable counts come from a separate
read-only connection; baseline variants and extra rows are judged as declared).
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "benchmarks"
RUN = BENCHMARKS / "run.py"
CHEAP = ["log_metric", "log_param", "log_batch", "create_runs", "search_100k"]
SEARCH_ROWS = ["search_100k_cold", "search_100k_or", "search_100k_or_cold", "search_100k_like", "search_100k_like_cold"]

if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))  # the harness's modules import their siblings by bare name

import measure  # noqa: E402
import report  # noqa: E402
import workloads  # noqa: E402


def _run(*args: str, cwd: Path, timeout: float = 280) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKFLOW_")}
    return subprocess.run([sys.executable, str(RUN), *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=timeout, check=False)


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One --quick --repeat 1 run of the cheap workloads (trackflow only)."""
    tmp = tmp_path_factory.mktemp("bench")
    out = tmp / "results"
    completed = _run("--quick", "--repeat", "1", "--only", ",".join(CHEAP), "--out", str(out), cwd=tmp)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return {"json": json.loads((out / "results.json").read_text()), "markdown": (out / "results.md").read_text(),
            "stdout": completed.stdout}


@pytest.mark.timeout(300)
def test_quick_run_writes_json_and_markdown(quick_report: dict[str, Any]) -> None:
    """One entry per workload plus one per extra row; numeric figures; the markdown is what is printed."""
    report_json = quick_report["json"]
    entries = {entry["name"]: entry for entry in report_json["results"]}
    assert sorted(entries) == sorted(CHEAP + SEARCH_ROWS)
    assert report_json["meta"]["quick"] is True
    for name, entry in entries.items():
        ours = entry["trackflow"]
        assert ours["status"] == "ok", (name, ours.get("reason"))
        assert isinstance(ours["median"], (int, float)) and math.isfinite(ours["median"]) and ours["median"] > 0
        assert all(isinstance(v, (int, float)) for v in ours["samples"])
        assert isinstance(ours["peak_rss_mb"], (int, float)) and ours["peak_rss_mb"] > 0
        assert entry["baseline"] is None and entry["baselines"] == {}  # no --compare-mlflow
    markdown = quick_report["markdown"]
    rows = [line for line in markdown.splitlines() if line.startswith("| ") and not line.startswith("| workload")]
    assert sorted(row.split(":")[0].strip("| ") for row in rows) == sorted(CHEAP + SEARCH_ROWS)
    assert markdown in quick_report["stdout"]
    for label in ("- Command: `python benchmarks/run.py --quick", "- Date: ", "- Machine: ", " cores", "Python "):
        assert label in markdown


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", ["log_metric", "log_param", "log_batch"])
def test_until_durable_timing_includes_end_run(quick_report: dict[str, Any], name: str) -> None:
    """The headline time spans the queued calls and end_run + flush; the count is read-only, afterwards."""
    entry = next(e for e in quick_report["json"]["results"] if e["name"] == name)
    raw = entry["trackflow"]["raw"][0]
    count = raw.get("calls") or raw["values"]
    total_s = raw["value"] * count / 1e6
    queued_s = raw["queued_us"] * count / 1e6
    end_s = raw["end_run_ms"] / 1000
    assert end_s > 0 and queued_s > 0
    assert total_s >= (queued_s + end_s) * (1 - 1e-9)  # nested clocks: the whole contains both parts
    assert "end_run" in raw["timed"]
    assert raw["durable"] == 1 and raw["stored"] == count
    assert "read-only" in raw["durable_check"]
    assert "queued" in markdown_row(quick_report["markdown"], name)


def markdown_row(markdown: str, name: str) -> str:
    """The table row of workload ``name``."""
    return next(line for line in markdown.splitlines() if line.startswith(f"| {name}:"))


@pytest.mark.timeout(300)
def test_create_runs_and_search_shapes_are_checked(quick_report: dict[str, Any]) -> None:
    """create_runs counts runs, params and metrics; every search shape is checked against the generated data."""
    entries = {entry["name"]: entry for entry in quick_report["json"]["results"]}
    create = entries["create_runs"]["trackflow"]["raw"][0]
    runs = create["params"]["runs"]
    assert (create["finished"], create["stored_params"], create["stored_metrics"]) == (runs, 5 * runs, 5 * runs)
    assert create["value"] >= create["queued_ms"]
    search = entries["search_100k"]["trackflow"]["raw"][0]
    for shape in ("fast", "or", "like"):
        assert search[f"{shape}_ok"] == 1, shape
        assert search[f"{shape}_results"] == 100
        assert search[f"{shape}_cold_ms"] > 0 and search[f"{shape}_warm_ms"] > 0
    assert entries["search_100k_or"]["trackflow"]["median"] == search["or_warm_ms"]
    assert entries["search_100k_like_cold"]["trackflow"]["median"] == search["like_cold_ms"]
    assert entries["search_100k_or"]["target_text"] == "<= 50 ms"


def test_count_rows_uses_a_separate_read_only_connection(tmp_path: Path) -> None:
    """Uncommitted writes of another connection are not counted, and the counting connection cannot write."""
    db = tmp_path / "store.db"
    writer = sqlite3.connect(db)
    writer.execute("CREATE TABLE metrics (run_id TEXT, value REAL)")
    writer.execute("INSERT INTO metrics VALUES ('a', 1.0)")
    writer.commit()
    writer.execute("INSERT INTO metrics VALUES ('a', 2.0)")  # not committed: not durable
    try:
        assert measure.count_rows(db, "SELECT COUNT(*) FROM metrics WHERE run_id = ?", ["a"]) == 1
        with pytest.raises(sqlite3.OperationalError):
            measure.count_rows(db, "INSERT INTO metrics VALUES ('b', 3.0)")
    finally:
        writer.rollback()
        writer.close()


def _side(median: float, **extras: float) -> dict[str, Any]:
    figures = {key: {"median": value, "min": value, "max": value} for key, value in extras.items()}
    return {"status": "ok", "median": median, "min": median, "max": median, "n": 1, "samples": [median],
            "extras": figures, "peak_rss_mb": 50.0}


def test_every_baseline_variant_is_judged() -> None:
    """log_metric: >= 200x MLflow sync and >= 50x MLflow async; missing the async target fails the row."""
    workload = workloads.by_name(["log_metric"])[0]
    ours = _side(10.0, durable=1, queued_us=3.0)
    met = report.evaluate(workload, ours, [("MLflow sync", _side(2500.0)), ("MLflow async", _side(600.0))])
    assert met["met"] is True and [r["label"] for r in met["ratios"]] == ["MLflow sync", "MLflow async"]
    missed = report.evaluate(workload, ours, [("MLflow sync", _side(2500.0)), ("MLflow async", _side(400.0))])
    assert missed["met"] is False and missed["ratios"][1]["ok"] is False
    entry = {"name": "log_metric", "title": workload.title, "unit": workload.unit, "baseline_kind": "mlflow",
             "anchor": workload.anchor, "target_text": workload.target.describe(workload.unit), "params": {},
             "workload": workload, "trackflow": ours, "verdict": missed,
             "baselines": {"MLflow sync": _side(2500.0, queued_us=2400.0), "MLflow async": _side(400.0)}}
    text = report.markdown([entry], {"date": "d", "command": "python benchmarks/run.py", "machine": "m, 2 cores",
                                     "python": "3", "trackflow": "0", "quick": True, "repeat": 1})
    row = markdown_row(text, "log_metric")
    assert "MLflow async: 400" in row and ">= 50x faster than MLflow async" in row and "**NO**" in row
    assert "queued (calls only): trackflow 3; MLflow sync 2,400" in row


def test_extra_rows_take_their_own_figure() -> None:
    """A row of a workload is judged on its figure; a side that lacks the figure is left out."""
    row = workloads.by_name(["search_100k"])[0].rows[1]
    collected = {"trackflow": [{"status": "ok", "value": 5.0, row.figure: 40.0}],
                 "MLflow": [{"status": "ok", "value": 900.0}]}
    derived = report.derive(row, collected)
    assert derived["trackflow"][0]["value"] == 40.0 and derived["MLflow"] == []


def test_every_workload_has_a_runner() -> None:
    """Each workload has a trackflow handler; each MLflow-compared one has an MLflow handler."""
    code = "import runner_trackflow as t, runner_mlflow as m; import json; print(json.dumps([list(t.HANDLERS), list(m.HANDLERS)]))"
    completed = subprocess.run([sys.executable, "-c", code], cwd=BENCHMARKS, capture_output=True, text=True,
                               timeout=60, check=True)
    ours, theirs = json.loads(completed.stdout)
    for workload in workloads.WORKLOADS:
        assert workload.name in ours
        assert workload.baseline != "mlflow" or workload.name in theirs, workload.name


def test_search_1m_is_skipped_by_quick_and_named(tmp_path: Path) -> None:
    """--quick leaves the 1M search out and says which option brings it back; the full sizes hold it."""
    completed = _run("--quick", "--only", "search_1m", "--out", str(tmp_path), cwd=tmp_path, timeout=60)
    assert completed.returncode == 0, completed.stderr[-2000:]
    entry = json.loads((tmp_path / "results.json").read_text())["results"][0]
    assert entry["trackflow"]["status"] == "skipped" and "--search-1m" in entry["trackflow"]["reason"]
    assert workloads.by_name(["search_1m"])[0].params(False) == {"runs": 1_000_000, "calls": 3}


def test_unknown_workload_is_refused(tmp_path: Path) -> None:
    """A typo in --only is a usage error naming the known workloads, not a silent no-op."""
    completed = _run("--only", "log_metrc", "--out", str(tmp_path), cwd=tmp_path, timeout=60)
    assert completed.returncode == 2
    assert "log_metrc" in completed.stderr and "log_metric" in completed.stderr
