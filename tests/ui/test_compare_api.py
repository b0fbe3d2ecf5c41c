"""The compare page and /api/compare over a store seeded by real tracked flows (two runs, lr differs)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ui.explore_flows import STEPS, Seeded, seeded_fixture, web_fixture  # noqa: F401 - fixtures seeded, web


def test_compare_api_reports_differing_params_histories_and_differences(
    web: TestClient, seeded: tuple[Path, Seeded]
) -> None:
    first, second, _ = seeded[1].run_ids
    body = web.get("/api/compare", params={"runs": f"{first},{second}", "step": "10"}).json()
    assert [r["id"] for r in body["runs"]] == [first, second]
    params = {p["key"]: p for p in body["params"]}
    assert params["lr"]["values"] == ["0.5", "2.0"] and params["lr"]["differs"] is True
    assert params["path"]["differs"] is False and params["solver"]["differs"] is False
    assert [p["key"] for p in body["params"] if p["differs"]] == ["lr"]
    # loss = 1 / (1 + step * lr), logged at 50 steps on each flow run
    loss = next(m for m in body["metrics"] if m["key"] == "loss")
    assert [c["steps"] for c in loss["runs"]] == [STEPS, STEPS]
    assert loss["runs"][0]["at_step"] == pytest.approx(1 / (1 + 10 * 0.5))
    assert loss["runs"][1]["last"] == pytest.approx(1 / (1 + 49 * 2.0))
    assert loss["runs"][1]["max"] == 1.0 and loss["runs"][1]["min"] == pytest.approx(1 / 99)
    histories = {h["run_id"]: h["points"] for h in body["histories"]["loss"]}
    assert [len(histories[first]), len(histories[second])] == [STEPS, STEPS]
    assert [p[0] for p in histories[second]] == list(range(STEPS))
    assert histories[second][49][1] == pytest.approx(1 / 99) and histories[second][0][2] >= 0
    # same CSV, same code, same packages: nothing differs but the params
    assert body["differences"] == [{"run_id": second, "differences": []}]
    # the CSV the load task read, by content fingerprint: the same in both runs
    reads = [[d for d in body["datasets"][run] if d["role"] == "input" and d["source"]] for run in (first, second)]
    assert {d["source"] for d in reads[0]} == {seeded[1].csv.as_uri()} and any(d["run_name"].startswith("load") for d in reads[0])
    assert {d["fingerprint"] for d in reads[0]} == {d["fingerprint"] for d in reads[1]}


def test_compare_refuses_fewer_than_two_or_more_than_twenty_runs(web: TestClient, seeded: tuple[Path, Seeded]) -> None:
    first = seeded[1].run_ids[0]
    one = web.get("/api/compare", params={"runs": first})
    assert one.status_code == 400 and "between 2 and 20 runs, got 1" in one.json()["error"]
    many = ",".join(f"{i:032x}" for i in range(21))
    assert web.get("/api/compare", params={"runs": many}).status_code == 400
    page = web.get("/compare", params={"runs": first})
    assert page.status_code == 400 and "between 2 and 20 runs" in page.text
    unknown = web.get("/api/compare", params={"runs": f"{first},{'0' * 32}"})
    assert unknown.status_code == 404 and "does not exist" in unknown.json()["error"]


def test_compare_page_renders_tables_and_chart_data(web: TestClient, seeded: tuple[Path, Seeded]) -> None:
    first, second, _ = seeded[1].run_ids
    page = web.get("/compare", params={"runs": f"{first},{second}", "diff": "1", "step": "5"})
    assert page.status_code == 200
    html = page.text
    assert 'id="params-table"' in html and "diff-only" in html
    assert '<tr class="differs" data-key="lr">' in html and '<tr class="same" data-key="path">' in html
    assert 'data-stat="at_step"' in html and "at step 5" in html
    assert 'id="compare-data"' in html and "/static/charts.js" in html
    assert web.get("/static/charts.js").status_code == 200
    assert web.get("/static/vendor/uplot/uPlot.iife.min.js").status_code == 200


def test_compare_reports_the_data_change_rerun_would(web: TestClient, seeded: tuple[Path, Seeded]) -> None:
    _, second, third = seeded[1].run_ids
    body = web.get("/api/compare", params={"runs": f"{second},{third}"}).json()
    assert [p["key"] for p in body["params"] if p["differs"]] == []
    (entry,) = body["differences"]
    data = {d["what"]: d for d in entry["differences"] if d["kind"] == "data"}
    reads = {run: [d for d in body["datasets"][run] if d["source"]] for run in (second, third)}
    # the file, by its path (what `trackflow rerun` checks), and the frame the training task received
    assert set(data) == {seeded[1].csv.as_uri(), "frame"}
    changed = data[seeded[1].csv.as_uri()]
    assert (changed["before"], changed["now"]) == (reads[second][0]["fingerprint"], reads[third][0]["fingerprint"])
    assert reads[second][0]["fingerprint"] != reads[third][0]["fingerprint"]
    assert changed["description"].startswith("data: " + seeded[1].csv.as_uri() + ": sha256:")
    page = web.get("/compare", params={"runs": f"{second},{third}"}).text
    assert 'class="grid differences"' in page and seeded[1].csv.as_uri() in page
