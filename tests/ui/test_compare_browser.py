"""End to end in headless Chromium at 1280 px: ``trackflow ui`` (a subprocess on a free loopback
port) over flows that trained, registered, promoted and served a model. The compare page of two
runs hides the params that do not differ when toggled and overlays the 50-step ``loss`` history
(the chart's points read from the DOM); the lineage explorer expands a node; the models, model
and version pages load. No console errors anywhere. Screenshots go to ``SCREENS`` (printed).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_helpers import Browser, chromium_path, start_chromium

from ui.explore_flows import MODEL, STEPS, Seeded, home_env, seeded_fixture  # noqa: F401 - fixture seeded
from ui.server import start_ui_server

from ci_gate import unavailable

SCREENS = Path("/tmp/trackflow-ui-screens")


@pytest.fixture(scope="module")
def ui_url(seeded: tuple[Path, Seeded], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if chromium_path() is None:
        unavailable("no chromium binary installed (apt-get install chromium) for the ui browser test")
    with start_ui_server(home_env(seeded[0]), tmp_path_factory.mktemp("ui-explore-server") / "ui.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser(ui_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    with start_chromium(tmp_path_factory.mktemp("chromium-explore"), window="1280,900") as chromium:
        yield chromium


def _shot(browser: Browser, name: str, **options: bool) -> None:
    path = SCREENS / f"{name}.png"
    browser.screenshot(path, **options)
    print(f"screenshot: {path}")


def _visible_params(browser: Browser) -> list[str]:
    return browser.js("[...document.querySelectorAll('#params-table tbody tr')]"
                      ".filter(tr => tr.offsetParent !== null).map(tr => tr.dataset.key)")


def test_compare_page_toggles_differences_and_overlays_histories(
    browser: Browser, ui_url: str, seeded: tuple[Path, Seeded]
) -> None:
    first, second, _ = seeded[1].run_ids
    browser.open(f"{ui_url}/compare?runs={first},{second}")
    assert browser.wait("!!document.querySelector('#history-chart .uplot')"), browser.console_errors()
    assert _visible_params(browser) == ["lr", "path", "solver"]
    assert browser.click("document.querySelector('#diff-only')")
    assert browser.wait("document.querySelector('#params-table').classList.contains('diff-only')")
    assert _visible_params(browser) == ["lr"]
    assert browser.js("location.search").endswith("diff=1")  # the view is a shareable link
    drawn = json.loads(browser.js("document.querySelector('#history-chart').dataset.points"))
    assert [s["name"] for s in drawn] == browser.js("[...document.querySelectorAll('#compare-runs thead a')].map(a => a.textContent)")
    assert [len(s["points"]) for s in drawn] == [STEPS, STEPS]
    assert [p[0] for p in drawn[1]["points"]] == list(range(STEPS))
    assert drawn[1]["points"][-1][1] == pytest.approx(1 / (1 + 49 * 2.0))
    # uPlot drew two series over the 50 aligned x values (its own data, not only our attribute)
    assert browser.js("(() => { const u = document.querySelector('#history-chart')._trackflowChart.plot;"
                      " return [u.data.length, u.data[0].length]; })()") == [3, STEPS]
    assert browser.js("document.querySelectorAll('#parallel-chart path.pc-line').length") == 2
    _shot(browser, "compare", full_page=True)
    # x = time since the run started: the same points, other x values
    browser.js("(() => { const s = document.querySelector('#history-x'); s.value = 'time';"
               " s.dispatchEvent(new Event('change')); })()")
    timed = json.loads(browser.wait("document.querySelector('#history-chart').dataset.points"))
    assert [len(s["points"]) for s in timed] == [STEPS, STEPS] and all(p[0] >= 0 for p in timed[0]["points"])
    assert browser.console_errors() == []


def test_lineage_explorer_expands_a_node(browser: Browser, ui_url: str, seeded: tuple[Path, Seeded]) -> None:
    first = seeded[1].run_ids[0]
    assert browser.open(f"{ui_url}/lineage?ref={first}", "!!window.trackflowLineage")
    before = browser.js("window.trackflowLineage.nodes()")
    assert f"run:{first}" in before and not any(n.startswith(f"model:{MODEL}/") for n in before)
    package = next(n for n in before if n.startswith("model:runs:/"))
    # select the model package in the graph, then click "expand downstream" in its panel
    browser.js(f"window.trackflowLineage.select({json.dumps(package)})")
    assert browser.wait(f"document.querySelector('#lineage-panel').dataset.node === {json.dumps(package)}")
    assert browser.click("document.querySelector('#lineage-panel button[data-expand=downstream]')")
    assert browser.wait(f"window.trackflowLineage.nodes().includes('model:{MODEL}/1')")
    after = browser.js("window.trackflowLineage.nodes()")
    assert set(before) < set(after)
    assert browser.js(f"window.trackflowLineage.cy.getElementById('model:{MODEL}/1').data('href')") == \
        f"/models/{MODEL}/versions/1"
    browser.js("window.trackflowLineage.cy.fit(undefined, 30) && true")
    _shot(browser, "lineage")
    assert browser.console_errors() == []


def test_registry_pages_load(browser: Browser, ui_url: str) -> None:
    assert browser.open(f"{ui_url}/models", "!!document.querySelector('#models-table')")
    assert browser.click(f"document.querySelector('#models-table a[href=\"/models/{MODEL}\"]')")
    assert browser.wait("!!document.querySelector('#version-chart .uplot')")
    points = json.loads(browser.js("document.querySelector('#version-chart').dataset.points"))
    assert [p[0] for p in points[0]["points"]] == [1, 2, 3]
    _shot(browser, "model", full_page=True)
    assert browser.click("document.querySelector('#versions-table tr[data-version=\"2\"] a')")
    assert browser.wait("!!document.querySelector('#signature-table') && !!document.querySelector('#deployments-table')")
    assert browser.js("document.querySelector('.lineage-static svg') !== null")
    _shot(browser, "model-version", full_page=True)
    assert browser.click("document.querySelector('#explore-lineage')")
    assert browser.wait(f"!!window.trackflowLineage && window.trackflowLineage.nodes().includes('model:{MODEL}/2')")
    assert browser.console_errors() == []
