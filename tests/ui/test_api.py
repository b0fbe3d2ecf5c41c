"""The ui's JSON API and pages over a store written by real tracked flows (FastAPI TestClient)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from trackflow.cli.ui import exposure_warning, is_loopback
from trackflow.tracking.client import Client
from trackflow.ui.app import create_app
from ui.conftest import UiStore
from ui.seeding import EXPERIMENT, HISTORY_STEPS, tiny_png

RUNS = f"/api/experiments/{EXPERIMENT}/runs"


@pytest.fixture(scope="module")
def api(ui_store: UiStore) -> TestClient:
    return TestClient(create_app(ui_store.client))


def _flow_ids(body: dict) -> list[str]:  # type: ignore[type-arg]
    return [row["id"] for row in body["runs"]]


def _task(client: Client, flow_run: str, name: str) -> str:
    return next(r.id for r in client.get_child_runs(flow_run) if r.name.startswith(name))


def test_experiments_counts_and_best_value(api: TestClient, ui_store: UiStore) -> None:
    client, seeded = ui_store.client, ui_store.seeded
    everything = client.search_runs(EXPERIMENT, max_results=1000)
    aucs = [r.metrics["auc"] for r in everything if "auc" in r.metrics]  # flow and task runs (the failed flow's fit too)
    body = api.get("/api/experiments", params={"metric": "auc", "mode": "max"}).json()
    (row,) = [e for e in body["experiments"] if e["name"] == EXPERIMENT]
    assert row["flow_run_count"] == len(seeded.flow_runs) + 1  # and the failed one
    assert row["run_count"] == len(everything) > row["flow_run_count"]
    assert row["best"] == max(aucs) and len(set(aucs)) > 1
    assert row["last_run_time"] is not None and row["url"] == f"/experiments/{EXPERIMENT}"
    lowest = api.get("/api/experiments", params={"metric": "auc", "mode": "min"}).json()
    assert [e for e in lowest["experiments"] if e["name"] == EXPERIMENT][0]["best"] == min(aucs)
    bad = api.get("/api/experiments", params={"metric": "auc", "mode": "median"})
    assert bad.status_code == 400 and "mode must be 'max' or 'min'" in bad.json()["error"]
    page = api.get("/", params={"metric": "auc"})
    assert page.status_code == 200 and f'href="/experiments/{EXPERIMENT}"' in page.text and "no runs yet" not in page.text.lower()


def test_empty_store_says_what_to_do(tmp_path: Path) -> None:
    empty = TestClient(create_app(Client(f"sqlite:///{tmp_path / 'empty.db'}", artifact_root=str(tmp_path / "a"))))
    page = empty.get("/")
    assert page.status_code == 200
    assert "No runs yet:" in page.text and "trackflow quickstart" in page.text
    assert empty.get("/api/experiments").json()["experiments"] == []


def test_runs_table_shows_flow_runs_with_chosen_columns(api: TestClient, ui_store: UiStore) -> None:
    client, seeded = ui_store.client, ui_store.seeded
    body = api.get(RUNS, params={"columns": "params.lr,params.depth,metrics.auc", "count": "true"}).json()
    assert [c["spec"] for c in body["columns"]] == ["params.lr", "params.depth", "metrics.auc"]
    assert body["total"] == len(seeded.flow_runs) + 1 and not body["has_more"]
    assert all(row["kind"] == "flow" and row["parent_run_id"] is None for row in body["runs"])
    assert _flow_ids(body)[-1] == seeded.flow_runs[0]  # newest first by default
    by_id = {row["id"]: row for row in body["runs"]}
    for run_id in seeded.flow_runs:
        run = client.get_run(run_id)
        row = by_id[run_id]
        assert row["values"] == {"params.lr": run.params["lr"], "params.depth": run.params["depth"],
                                 "metrics.auc": run.metrics["auc"]}
        assert row["children"] == 2 and row["status"] == "FINISHED" and row["duration_s"] > 0
    assert by_id[seeded.failed_run]["status"] == "FAILED"
    best = by_id[seeded.best_run]["models"]
    assert best == [{"name": seeded.model_name, "version": 1, "stage": "staging", "aliases": [],
                     "url": f"/models/{seeded.model_name}/versions/1"}]
    with_tasks = api.get(RUNS, params={"all": "1", "columns": "metrics.loss:min,metrics.loss:max", "count": "1"}).json()
    fit = _task(client, seeded.best_run, "fit")
    (fit_row,) = [r for r in with_tasks["runs"] if r["id"] == fit]
    history = [m.value for m in client.get_metric_history(fit, "loss")]
    assert len(history) == HISTORY_STEPS
    assert fit_row["values"] == {"metrics.loss:min": min(history), "metrics.loss:max": max(history)}
    assert with_tasks["total"] == len(client.search_runs(EXPERIMENT, max_results=1000))


def test_runs_table_sorts_by_any_sortable_column(api: TestClient, ui_store: UiStore) -> None:
    client = ui_store.client

    def values(sort: str, order: str, column: str) -> list[object]:
        body = api.get(RUNS, params={"sort": sort, "order": order, "columns": column}).json()
        return [row["values"][column] for row in body["runs"]]

    aucs = values("metrics.auc", "asc", "metrics.auc")
    assert aucs == sorted(aucs) and len(set(aucs)) == len(ui_store.seeded.flow_runs) + 1
    scores = values("metrics.score", "asc", "metrics.score")
    known = [a for a in scores if a is not None]
    assert known == sorted(known) and len(known) == len(ui_store.seeded.flow_runs)
    assert scores[-1] is None  # the failed run has no score: last either way
    down = values("metrics.score", "desc", "metrics.score")
    assert [a for a in down if a is not None] == sorted(known, reverse=True) and down[-1] is None
    lrs = values("params.lr", "desc", "params.lr")
    assert lrs == sorted(lrs, reverse=True)
    names = [r["name"] for r in api.get(RUNS, params={"sort": "name", "order": "asc"}).json()["runs"]]
    assert names == sorted(names)
    rows = api.get(RUNS, params={"sort": "duration", "order": "desc"}).json()["runs"]
    durations = [r["duration_s"] for r in rows]
    assert durations == sorted(durations, reverse=True)
    starts = [r["start_time"] for r in api.get(RUNS, params={"sort": "start", "order": "asc"}).json()["runs"]]
    assert starts == sorted(starts)
    unsortable = api.get(RUNS, params={"sort": "metrics.loss:max"})
    assert unsortable.status_code == 400 and "Cannot sort by metrics.loss:max" in unsortable.json()["error"]
    assert client.get_run(ui_store.seeded.best_run).status.value == "FINISHED"


def test_runs_table_filters_with_the_search_grammar(api: TestClient, ui_store: UiStore) -> None:
    client, seeded = ui_store.client, ui_store.seeded
    three = next(r for r in seeded.flow_runs if client.get_run(r).params["depth"] == "3")
    body = api.get(RUNS, params={"filter": "params.depth = '3'"}).json()
    assert _flow_ids(body) == [three] and body["total"] is None  # counted only on request
    counted = api.get(f"/api/experiments/{EXPERIMENT}/count", params={"filter": "params.depth = '3'"}).json()
    assert counted["total"] == 1
    every = api.get(f"/api/experiments/{EXPERIMENT}/count", params={"all": "1"}).json()["total"]
    assert every == len(client.search_runs(EXPERIMENT, max_results=1000))
    body = api.get(RUNS, params={"filter": "attributes.status = 'FAILED'"}).json()
    assert _flow_ids(body) == [seeded.failed_run]
    bad = api.get(RUNS, params={"filter": "metrics.auc >> 0.5"})
    assert bad.status_code == 400
    error = bad.json()
    assert "position 13" in error["error"] and "^" in error["error"] and error["type"] == "InvalidInputError"
    page = api.get(f"/experiments/{EXPERIMENT}", params={"filter": "metrics.auc >> 0.5"})
    assert page.status_code == 200  # the page shows the message inline, with the filter kept
    assert 'id="filter-error"' in page.text and "position 13" in page.text and 'data-error-position="13"' in page.text
    assert 'value="metrics.auc &gt;&gt; 0.5"' in page.text
    none = api.get(f"/experiments/{EXPERIMENT}", params={"filter": "params.depth = '42'"})
    assert "No run matches this filter." in none.text


def test_runs_table_pages(api: TestClient, ui_store: UiStore) -> None:
    every = _flow_ids(api.get(RUNS).json())
    first = api.get(RUNS, params={"limit": 2}).json()
    assert _flow_ids(first) == every[:2] and first["has_more"] and first["next_offset"] == 2
    last = api.get(RUNS, params={"limit": 2, "offset": 4}).json()
    assert _flow_ids(last) == every[4:] and not last["has_more"] and last["next_offset"] is None
    page = api.get(f"/experiments/{EXPERIMENT}", params={"limit": 2, "columns": "params.lr"})
    assert 'id="next-page"' in page.text and "offset=2" in page.text and "columns=params.lr" in page.text
    assert api.get(RUNS, params={"limit": 0}).status_code == 422
    assert _flow_ids(api.get(RUNS, params={"all": ""}).json()) == every  # the form's "flow runs" choice
    bad_column = api.get(RUNS, params={"columns": "params.lr,weights.w"})
    assert bad_column.status_code == 400 and "Unknown column 'weights.w'" in bad_column.json()["error"]


def test_runs_page_lists_rows_and_task_runs(api: TestClient, ui_store: UiStore) -> None:
    seeded = ui_store.seeded
    page = api.get(f"/experiments/{EXPERIMENT}", params={"columns": "params.lr,metrics.auc", "sort": "metrics.auc"})
    assert page.status_code == 200
    for run_id in seeded.flow_runs:
        assert f'data-run-id="{run_id}"' in page.text
    assert "params.lr" in page.text and 'class="toggle expand"' in page.text and 'id="compare-link"' in page.text
    children = api.get(f"/api/runs/{seeded.best_run}/children", params={"columns": "metrics.auc"}).json()["runs"]
    assert sorted(r["name"].split("-")[0] for r in children) == ["fit", "prepare"]
    assert all(r["parent_run_id"] == seeded.best_run for r in children)
    fragment = api.get(f"/runs/{seeded.best_run}/rows", params={"columns": "metrics.auc"})
    assert fragment.text.count("<tr") == 2 and f"child-of-{seeded.best_run}" in fragment.text


def test_run_api_and_page(api: TestClient, ui_store: UiStore, monkeypatch: pytest.MonkeyPatch) -> None:
    client, seeded = ui_store.client, ui_store.seeded
    run = client.get_run(seeded.best_run)
    body = api.get(f"/api/runs/{run.id}").json()
    assert body["params"] == run.params and body["metrics"] == run.metrics and body["tags"]["team"] in ("growth", "risk")
    assert [n["kind"] for n in body["notes"]] == ["decision"]
    assert {a["path"] for a in body["artifacts"]} >= {"report/summary.txt", "report/metrics.json", "report/curve.csv",
                                                     "plots/roc.png"}
    assert [c["name"].split("-")[0] for c in body["children"]] == ["prepare", "fit"]
    assert body["models"][0]["name"] == seeded.model_name and body["models"][0]["stage"] == "staging"
    assert body["prefect"]["flow_run_id"] == run.flow_run_id and body["prefect"]["links"] == {}
    prepare = _task(client, run.id, "prepare")
    datasets = api.get(f"/api/runs/{prepare}").json()["datasets"]
    assert datasets and datasets[0]["role"] == "output" and datasets[0]["num_rows"] > 0 and datasets[0]["profile"]
    assert datasets[0]["task"] is None
    of_tasks = body["datasets"]  # the flow run's page lists its tasks' datasets
    assert {(d["task"]["id"], d["fingerprint"]) for d in of_tasks} >= {(prepare, datasets[0]["fingerprint"])}
    fit = _task(client, run.id, "fit")
    history = api.get(f"/api/runs/{fit}/metrics/loss/history").json()["history"]
    assert [p["step"] for p in history] == list(range(HISTORY_STEPS))
    assert math.isclose(history[1]["value"], client.get_metric_history(fit, "loss")[1].value)
    assert api.get(f"/api/runs/{fit}").json()["metric_histories"]["loss"] == history
    monkeypatch.setenv("PREFECT_UI_URL", "http://127.0.0.1:4200/")
    links = api.get(f"/api/runs/{run.id}").json()["prefect"]["links"]
    assert links == {"flow_run": f"http://127.0.0.1:4200/runs/flow-run/{run.flow_run_id}"}
    page = api.get(f"/runs/{fit}")
    assert page.status_code == 200 and 'class="chart metric-chart" data-key="loss"' in page.text
    page = api.get(f"/runs/{run.id}")
    for text in ("Parameters", "Notes and decisions", "Artifacts", "Lineage", "Task runs", "Source and environment",
                 f"/models/{seeded.model_name}/versions/1", f"/runs/flow-run/{run.flow_run_id}", "/lineage?ref=run:"):
        assert text in page.text, text
    svg = api.get(f"/runs/{run.id}/lineage.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml") and "<svg" in svg.text


def test_artifact_previews_and_downloads(api: TestClient, ui_store: UiStore) -> None:
    run_id = ui_store.seeded.best_run
    url = f"/api/runs/{run_id}/artifacts"
    text = api.get(f"{url}/preview", params={"path": "report/summary.txt"}).json()
    assert text["kind"] == "text" and "<script>" in text["text"]  # JSON text: the page sets textContent
    as_json = api.get(f"{url}/preview", params={"path": "report/metrics.json"}).json()
    assert as_json["kind"] == "json" and json.loads(as_json["text"])["depth"] == 5
    csv = api.get(f"{url}/preview", params={"path": "report/curve.csv"}).json()
    assert csv["kind"] == "csv" and csv["header"] == ["step", "loss"] and csv["rows"][2] == ["2", "0.25"]
    image = api.get(f"{url}/preview", params={"path": "plots/roc.png"}).json()
    assert image["kind"] == "image" and image["url"].endswith("inline=1")
    shown = api.get(image["url"])
    assert shown.content == tiny_png() and shown.headers["content-disposition"].startswith("inline")
    download = api.get(f"{url}/download", params={"path": "report/summary.txt"})
    assert download.status_code == 200 and download.content.startswith(b"lr=")
    assert download.headers["content-disposition"].startswith("attachment") and download.headers["x-content-type-options"] == "nosniff"
    inline_text = api.get(f"{url}/download", params={"path": "report/summary.txt", "inline": "1"})
    assert inline_text.headers["content-disposition"].startswith("attachment")  # only images show inline
    for bad in ("../other/x.txt", "report/../../x", "/etc/passwd", "..\\x", "C:/x", ""):
        refused = api.get(f"{url}/download", params={"path": bad})
        assert refused.status_code == 400, (bad, refused.text)
    missing = api.get(f"{url}/download", params={"path": "report/nope.txt"})
    assert missing.status_code == 404 and "has no artifact" in missing.json()["error"]
    listed = api.get(url).json()["artifacts"]
    assert any(a["path"] == "plots/roc.png" and a["preview"] == "image" for a in listed)


def test_unknown_things_are_404(api: TestClient) -> None:
    for path in ("/api/runs/0123456789abcdef0123456789abcdef", "/api/runs/not-a-run-id", "/api/experiments/nope/runs"):
        response = api.get(path)
        assert response.status_code == 404 and "error" in response.json(), path
    page = api.get("/runs/0123456789abcdef0123456789abcdef")
    assert page.status_code == 404 and "does not exist" in page.text and "<html" in page.text
    assert api.get("/experiments/nope").status_code == 404


def test_every_route_is_read_only(api: TestClient, ui_store: UiStore) -> None:
    app = create_app(ui_store.client)
    for route in app.routes:
        methods = getattr(route, "methods", None)
        if methods is not None:
            assert set(methods) <= {"GET", "HEAD"}, (getattr(route, "path", route), methods)
    for path in ("/", RUNS, f"/api/runs/{ui_store.seeded.best_run}"):
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            assert api.request(method, path).status_code == 405, (method, path)


def test_token_is_required_when_set(ui_store: UiStore) -> None:
    guarded = TestClient(create_app(ui_store.client, token="s3cret"))
    for path in ("/", RUNS, "/static/ui.css"):
        response = guarded.get(path)
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer", path
    assert "error" in guarded.get(RUNS).json()
    assert guarded.get(RUNS, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert guarded.get(RUNS, headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert guarded.get(RUNS, params={"token": "s3cret"}).status_code == 200
    entered = guarded.get("/", params={"token": "s3cret", "metric": "auc"}, follow_redirects=False)
    assert entered.status_code == 303 and entered.headers["location"] == "/?metric=auc"
    assert "trackflow_ui_token=s3cret" in entered.headers["set-cookie"] and "HttpOnly" in entered.headers["set-cookie"]
    assert guarded.get("/").status_code == 200  # the cookie the redirect set
    assert guarded.get("/static/ui.css").status_code == 200


def test_cli_warns_when_exposed_without_a_token() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")
    assert exposure_warning("127.0.0.1", None) is None and exposure_warning("0.0.0.0", "t") is None
    warning = exposure_warning("0.0.0.0", None)
    assert warning is not None and "without a token" in warning and "--token" in warning


def test_metric_sort_pages_match_search_runs(api: TestClient, ui_store: UiStore) -> None:
    """Runs with the metric first (through its index), then those without: page by page as search_runs orders them."""
    client = ui_store.client
    for order in ("desc", "asc"):
        expected = [r.id for r in client.search_runs(EXPERIMENT, order_by=f"metrics.score {order.upper()}", max_results=1000)]
        with_score = sum(1 for r in client.search_runs(EXPERIMENT, max_results=1000) if "score" in r.metrics)
        assert 0 < with_score < len(expected)  # pages cross from runs with a score to runs without
        got: list[str] = []
        for offset in range(0, len(expected) + 3, 3):
            page = api.get(RUNS, params={"all": "1", "sort": "metrics.score", "order": order, "limit": 3,
                                         "offset": offset}).json()
            got += _flow_ids(page)
            assert page["has_more"] == (offset + 3 < len(expected))
        assert got == expected


def test_the_ui_does_not_import_prefect() -> None:
    """The ui reads through the Client: importing the app (as ``trackflow ui`` does) loads no Prefect module."""
    import subprocess
    import sys

    code = "import sys, trackflow.ui.app; print(sorted(m for m in sys.modules if m.split('.')[0] == 'prefect'))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.strip() == "[]"
