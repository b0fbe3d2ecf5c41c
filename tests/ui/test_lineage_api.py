"""The lineage explorer's API and page over flows that read a CSV, train and register a model."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi.testclient import TestClient

from ui.explore_flows import MODEL, Seeded, seeded_fixture, web_fixture  # noqa: F401 - fixtures seeded, web


def _graph(web: TestClient, ref: str, **params: str) -> dict:
    response = web.get("/api/lineage", params={"ref": ref, **params})
    assert response.status_code == 200, response.text
    return response.json()


def test_lineage_expands_one_level_at_a_time(web: TestClient, seeded: tuple[Path, Seeded]) -> None:
    first = seeded[1].run_ids[0]
    start = _graph(web, first)  # depth 1 both ways around the flow run and its task runs
    kinds = {n["id"]: n["kind"] for n in start["nodes"]}
    assert start["root"] == f"run:{first}" and start["depth"] == 1
    assert "dataset" in kinds.values() and "model" in kinds.values()
    assert "model_version" not in kinds.values()  # two hops away: run -> model package -> version
    tasks = [n for n in start["nodes"] if n["kind"] == "run" and n["id"] != f"run:{first}"]
    assert tasks and all(start["groups"][t["id"]] == f"run:{first}" for t in tasks)
    assert all(n["href"] == f"/runs/{n['id'][4:]}" for n in start["nodes"] if n["kind"] == "run")
    package = next(n for n in start["nodes"] if n["kind"] == "model")
    # expanding the model package downstream adds the version it was registered as
    down = _graph(web, package["id"], direction="downstream", depth="1")
    version = next(n for n in down["nodes"] if n["kind"] == "model_version")
    assert version["id"] == f"model:{MODEL}/1" and version["href"] == f"/models/{MODEL}/versions/1"
    assert {(e["source"], e["target"]) for e in down["edges"]} == {(package["id"], version["id"])}
    assert all(n["explore"].startswith("/lineage?ref=") for n in down["nodes"])


def test_lineage_scope_all_follows_the_shared_csv_into_other_runs(web: TestClient, seeded: tuple[Path, Seeded]) -> None:
    first, second, _third = seeded[1].run_ids
    start = _graph(web, first)
    csv = next(n for n in start["nodes"] if n["kind"] == "dataset" and n["attributes"]["name"] == "path")
    shared = _graph(web, csv["id"], direction="downstream", scope="all")
    readers = {n["id"] for n in shared["nodes"] if n["kind"] == "run"}
    own = _graph(web, csv["id"], direction="downstream", scope="run")
    assert len(readers) > len({n["id"] for n in own["nodes"] if n["kind"] == "run"})
    parents = {shared["groups"].get(r, r) for r in readers}
    assert {f"run:{first}", f"run:{second}"} <= parents


def test_lineage_rejects_bad_input_with_clear_errors(web: TestClient, seeded: tuple[Path, Seeded]) -> None:
    first = seeded[1].run_ids[0]
    assert web.get("/api/lineage", params={"ref": first, "direction": "sideways"}).status_code == 400
    assert "depth must be between 1 and 10" in web.get("/api/lineage", params={"ref": first, "depth": "0"}).json()["error"]
    assert web.get("/api/lineage", params={"ref": first, "scope": "world"}).status_code == 400
    assert "Unknown lineage reference" in web.get("/api/lineage", params={"ref": "nonsense"}).json()["error"]
    page = web.get("/lineage")
    assert page.status_code == 400 and "needs a starting point" in page.text


def test_lineage_page_embeds_the_first_level(web: TestClient, seeded: tuple[Path, Seeded]) -> None:
    page = web.get(f"/lineage?ref={quote(f'models:/{MODEL}/2', safe='')}&scope=all")
    assert page.status_code == 200
    assert 'id="lineage-data"' in page.text and f'data-root="model:{MODEL}/2"' in page.text
    assert "/static/vendor/cytoscape/cytoscape.min.js" in page.text and "/static/lineage.js" in page.text
    assert web.get("/static/lineage.js").status_code == 200
    assert web.get("/static/vendor/cytoscape/cytoscape.min.js").status_code == 200
