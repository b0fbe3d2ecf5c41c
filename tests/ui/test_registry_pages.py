"""The registry pages and /api/models over three registered versions (staged, promoted, served)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from ui.explore_flows import MODEL, Seeded, home_client, seeded_fixture, web_fixture  # noqa: F401 - fixtures seeded, web


def test_models_list_latest_version_per_stage(web: TestClient, seeded: tuple[Path, Seeded]) -> None:
    (model,) = [m for m in web.get("/api/models").json()["models"] if m["name"] == MODEL]
    assert {s: v["version"] for s, v in model["latest_by_stage"].items()} == {
        "production": 2, "staging": 1, "development": 3}  # fmt: skip
    assert model["latest_version"] == 3 and model["aliases"] == {"champion": 2}
    page = web.get("/models")
    assert page.status_code == 200 and f'data-model="{MODEL}"' in page.text
    assert f'href="/models/{MODEL}/versions/2">v2</a>' in page.text and "@champion &rarr; v2" in page.text


def test_model_page_versions_history_and_card(web: TestClient, seeded: tuple[Path, Seeded]) -> None:
    body = web.get(f"/api/models/{MODEL}").json()
    assert [(v["version"], v["stage"], v["aliases"]) for v in body["versions"]] == [
        (3, "development", []), (2, "production", ["champion"]), (1, "staging", [])]  # fmt: skip
    # the version's run is the training task: its flow run's metrics complete it (loss ends at 1/(1+49 lr))
    assert [round(v["metrics"]["loss"], 4) for v in body["versions"]] == [round(1 / 99, 4)] * 2 + [round(1 / 25.5, 4)]
    promoted = next(t for t in body["history"] if t["version"] == 2 and t["to_stage"] == "production")
    assert promoted["reason"] == "better loss curve" and promoted["details"] == {"policy": "loss < 0.1", "loss": 0.02}
    assert promoted["user"] and promoted["when"]
    assert body["card"].startswith(f"# Model card: {MODEL} v3") and "data:image/svg" not in body["card"]
    page = web.get(f"/models/{MODEL}", params={"metric": "accuracy"})
    assert page.status_code == 200
    assert 'id="version-chart"' in page.text and "better loss curve" in page.text and 'id="model-card"' in page.text
    assert web.get("/models/nope").status_code == 404
    assert "nope" in web.get("/api/models/nope").json()["error"]


def test_version_page_signature_example_lineage_and_serving(web: TestClient, seeded: tuple[Path, Seeded]) -> None:
    first, second, _ = seeded[1].run_ids
    body = web.get(f"/api/models/{MODEL}/versions/2").json()
    assert [c["name"] for c in body["signature"]["inputs"]] == ["age", "spend"]
    assert body["input_example"]["columns"] == ["age", "spend"] and len(body["input_example"]["data"]) == 3
    assert [(d["name"], d["target"], d["until"]) for d in body["deployments"]] == [
        ("churn-api", "http://127.0.0.1:9/invocations", None)]  # fmt: skip
    # upstream of the version: the frame the training task received, and the CSV the load task read
    second_reads = {d.dataset.fingerprint for d in home_client(seeded[0]).get_datasets(second)}
    upstream = {d["attributes"]["fingerprint"] for d in body["datasets"]}
    assert second_reads and second_reads <= upstream
    assert body["lineage_href"] == f"/lineage?ref=model:{MODEL}/2" and body["lineage"]["svg"].startswith("<svg")
    assert body["run"]["href"] == f"/runs/{body['version']['run_id']}"
    run = web.get(f"/api/compare?runs={first},{second}").json()  # the version's run is the second flow's task
    assert body["version"]["run_id"] not in {first, second} and run["runs"]
    page = web.get(f"/models/{MODEL}/versions/2")
    assert page.status_code == 200
    for fragment in ('id="signature-table"', 'id="input-example"', 'id="deployments-table"', "churn-api",
                     f'href="/lineage?ref=model:{MODEL}/2"', "<svg"):
        assert fragment in page.text
    card = web.get(f"/api/models/{MODEL}/versions/2/card")
    assert card.status_code == 200 and card.text.startswith(f"# Model card: {MODEL} v2")
    assert web.get(f"/models/{MODEL}/versions/9").status_code == 404
