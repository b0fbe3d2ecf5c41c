"""The version page's "why" section and the experiment journal, over real tracked flows.

The seeded store (:mod:`ui.explore_flows`): three ``ui-train`` flow runs, each noting its
``lr`` decision, register versions 1-3 of the model; the CSV changed before the third; an
exploration run's finding (a DataFrame and a metric as evidence) informs the third flow run.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from ui.explore_flows import (  # noqa: F401 - fixtures seeded, web
    EXPLORATION,
    FINDING,
    MODEL,
    Seeded,
    seeded_fixture,
    web_fixture,
)


def test_version_page_says_why(web: TestClient, seeded: tuple[Path, Seeded]) -> None:
    why = web.get(f"/api/models/{MODEL}/versions/3").json()["why"]
    assert (why["version"], why["previous_version"]) == (3, 2)
    (decision,) = [n for n in why["notes"] if n["origin"] == "pipeline"]
    assert decision["text"].startswith("learning rate 2.0") and decision["run_href"] == f"/runs/{seeded[1].run_ids[2]}"
    exploration = [n for n in why["notes"] if n["origin"] == "exploration"]
    # the finding informs the flow run; the exploration run it cites brings its other note along
    assert [n["kind"] for n in exploration] == ["note", "finding"]
    finding = exploration[1]
    assert finding["text"] == FINDING and finding["href"] == f"/journal/{EXPLORATION}#note-{seeded[1].finding_id}"
    kinds = {e["kind"]: e for e in finding["evidence"]}
    assert kinds["dataset"]["detail"] == "4 rows x 3 columns" and kinds["dataset"]["href"].startswith("/lineage?ref=dataset:")
    assert kinds["run"]["href"] == f"/runs/{seeded[1].exploration_id}" and "spend_gap = 5.6" in kinds["run"]["detail"]
    assert why["informed_by"] == [{"ref": f"note:{seeded[1].finding_id}", "href": f"/lineage?ref=note:{seeded[1].finding_id}"}]
    changed = [d for d in why["datasets"] if d["status"] == "changed"]  # spend doubled in the CSV before v3
    assert changed and any(c["column"] == "spend" for d in changed for c in d["drift"])
    page = web.get(f"/models/{MODEL}/versions/3")
    assert page.status_code == 200
    for fragment in ('id="why"', 'id="why-pipeline"', 'id="why-exploration"', FINDING, 'id="why-datasets"',
                     f'href="/journal/{EXPLORATION}#note-{seeded[1].finding_id}"', "column spend: shift"):
        assert fragment in page.text, fragment


def test_model_card_carries_the_why_section(web: TestClient, seeded: tuple[Path, Seeded]) -> None:
    card = web.get(f"/api/models/{MODEL}/versions/3/card").text
    assert "## Why this model?" in card and "### From the exploration that informed it" in card
    assert FINDING in card and "changed since version 2" in card
    assert card.index("## Why this model?") < card.index("## Stage history")


def test_journal_lists_notes_in_time_order_filtered_by_kind(web: TestClient, seeded: tuple[Path, Seeded]) -> None:
    body = web.get(f"/api/journal/{EXPLORATION}").json()
    assert [n["kind"] for n in body["notes"]] == ["note", "finding"]  # oldest first
    finding = body["notes"][1]
    assert finding["id"] == seeded[1].finding_id and finding["run_href"] == f"/runs/{seeded[1].exploration_id}"
    assert [e["ref"].split(":", 1)[0] for e in finding["evidence"]] == ["dataset", "run"]
    assert finding["informs"] == [{"ref": f"run:{seeded[1].run_ids[2]}", "href": f"/runs/{seeded[1].run_ids[2]}"}]
    only = web.get(f"/api/journal/{EXPLORATION}", params={"kind": "finding"}).json()
    assert [n["id"] for n in only["notes"]] == [seeded[1].finding_id]
    page = web.get(f"/journal/{EXPLORATION}", params={"kind": "finding"})
    assert page.status_code == 200 and f'id="note-{seeded[1].finding_id}"' in page.text and FINDING in page.text
    assert "a first look" not in page.text
    pipeline = web.get("/api/journal/ui-explore").json()["notes"]
    assert [n["text"].split(":")[0] for n in pipeline] == ["learning rate 0.5", "learning rate 2.0", "learning rate 2.0"]
    assert web.get("/journal/no-such-experiment").status_code == 404
    assert web.get(f"/api/journal/{EXPLORATION}", params={"kind": "gossip"}).status_code == 400
    assert 'id="journal-link"' in web.get(f"/experiments/{EXPLORATION}").text
