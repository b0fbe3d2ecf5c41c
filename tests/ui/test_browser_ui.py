"""End to end: ``trackflow ui`` as a subprocess over a store written by real tracked flows,
driven by headless Chromium at 1280 px: experiments, runs (sort, filter, task runs,
selection, columns) and run pages, with no console errors. Screenshots go to the folder
printed (``SCREENS``); with TRACKFLOW_UPDATE_DOCS_SCREENSHOTS=1 the runs page is also copied
to ``docs/ui-runs.png`` (the README's picture).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from browser_helpers import Browser, chromium_path, start_chromium

from ui.conftest import UiStore
from ui.seeding import EXPERIMENT, HISTORY_STEPS
from ui.server import start_ui_server

from ci_gate import unavailable

SCREENS = Path("/tmp/trackflow-ui-screens")
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "ui-runs.png"
UPDATE_DOCS_ENV = "TRACKFLOW_UPDATE_DOCS_SCREENSHOTS"
TOKEN = "browser-test-token"
COLUMNS = "params.lr,params.depth,metrics.auc,metrics.score"


@pytest.fixture(scope="module")
def ui_url(ui_store: UiStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if chromium_path() is None:
        unavailable("no chromium binary installed (apt-get install chromium) for the ui browser test")
    log = tmp_path_factory.mktemp("ui-server") / "ui.log"
    env = {**ui_store.env, "PREFECT_UI_URL": "http://127.0.0.1:4200"}
    with start_ui_server(env, log, token=TOKEN) as url:
        yield url


@pytest.fixture(scope="module")
def browser(ui_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    with start_chromium(tmp_path_factory.mktemp("chromium"), window="1280,900") as chromium:
        yield chromium


def _shot(browser: Browser, name: str, **options: bool) -> Path:
    path = SCREENS / f"{name}.png"
    browser.screenshot(path, **options)
    print(f"screenshot: {path}")
    return path


def _column(browser: Browser, spec: str) -> list[str]:
    """The texts of one column of the runs table (flow-run rows), by the header's title."""
    return browser.js(f"""(() => {{
      const heads = [...document.querySelectorAll('#runs thead th')];
      const index = heads.findIndex(th => th.title === {json.dumps(spec)});
      return [...document.querySelectorAll('#runs tbody tr.run-row')].map(tr => tr.children[index].textContent.trim());
    }})()""")


def _numbers(texts: list[str]) -> list[float]:
    return [float(t) for t in texts if t]


def test_experiments_and_runs_pages(browser: Browser, ui_url: str, ui_store: UiStore,
                                    record_property: Callable[[str, object], None]) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    print(f"screenshots folder: {SCREENS}")
    record_property("screenshots", str(SCREENS))
    # The token in the address bar once; the server swaps it for a cookie.
    assert browser.open(f"{ui_url}/?token={TOKEN}&metric=auc", "document.querySelector('#experiments')")
    assert browser.js("location.search") == "?metric=auc"
    assert EXPERIMENT in browser.js("document.querySelector('#experiments').innerText")
    _shot(browser, "experiments")
    assert browser.console_errors() == []

    assert browser.click(f"[...document.querySelectorAll('#experiments a')].find(a => a.textContent === '{EXPERIMENT}')")
    assert browser.wait("document.querySelector('#runs') && location.pathname")
    assert len(_column(browser, "metrics.auc")) == len(ui_store.seeded.flow_runs) + 1
    assert browser.console_errors() == []

    # Sort by a metric column (server side): first click descending, second ascending.
    assert browser.open(f"{ui_url}/experiments/{EXPERIMENT}?columns={COLUMNS}", "document.querySelector('#runs')")
    assert browser.click("document.querySelector('a.sort[data-sort=\"metrics.auc\"]')")
    assert browser.wait("location.search.includes('sort=metrics.auc') && location.search.includes('order=desc')"
                        " && document.readyState === 'complete'")
    down = _numbers(_column(browser, "metrics.auc"))
    assert down == sorted(down, reverse=True) and len(down) == len(ui_store.seeded.flow_runs) + 1
    assert browser.click("document.querySelector('a.sort[data-sort=\"metrics.auc\"]')")
    assert browser.wait("location.search.includes('order=asc') && document.readyState === 'complete'")
    assert _numbers(_column(browser, "metrics.auc")) == sorted(down)

    # Expand a flow run's task runs, select two runs: the compare link follows.
    assert browser.click("document.querySelector('button.expand')")
    assert browser.wait("document.querySelectorAll('#runs tr.child').length === 2")
    for index in (0, 1):
        assert browser.click(f"document.querySelectorAll('tr.run-row input.select-run')[{index}]")
    link = browser.js("(() => { const a = document.querySelector('#compare-link');"
                      " return {href: a.getAttribute('href'), disabled: a.classList.contains('disabled')}; })()")
    ids = browser.js("[...document.querySelectorAll('tr.run-row input.select-run')].slice(0, 2).map(b => b.value)")
    assert link == {"href": "/compare?runs=" + ",".join(ids), "disabled": False}
    screenshot = _shot(browser, "runs")
    if os.environ.get(UPDATE_DOCS_ENV) == "1":  # refresh the README's picture on request only (it is committed)
        shutil.copyfile(screenshot, DOCS_SCREENSHOT)
        print(f"screenshot: {DOCS_SCREENSHOT}")
    assert browser.console_errors() == []

    # Filter with the search grammar: typed into the box, applied with the button.
    assert browser.click("document.querySelector('#filter')")
    browser.js("document.querySelector('#filter').value = ''")
    browser.type_text("params.depth = '3' and metrics.auc > 0")
    assert browser.click("document.querySelector('#apply-filter')")
    assert browser.wait("location.search.includes('filter=') && document.readyState === 'complete'"
                        " && document.querySelectorAll('#runs tr.run-row').length === 1")
    assert _column(browser, "params.depth") == ["3"]
    _shot(browser, "runs-filtered")

    # A bad filter: the parser's message inline and the caret's position selected in the box.
    browser.js("document.querySelector('#filter').value = ''")
    assert browser.click("document.querySelector('#filter')")
    browser.type_text("metrics.auc >> 0.5")
    assert browser.click("document.querySelector('#apply-filter')")
    error = browser.wait("document.querySelector('#filter-error') && document.querySelector('#filter-error').innerText")
    assert error and "position 13" in error and "^" in error
    assert browser.js("document.querySelector('#filter').selectionStart") == 13
    _shot(browser, "runs-filter-error")

    # Choose columns with the picker: the choice lands in the URL.
    assert browser.open(f"{ui_url}/experiments/{EXPERIMENT}?columns=params.lr", "document.querySelector('#runs')")
    assert browser.click("document.querySelector('#columns-picker summary')")
    assert browser.click("document.querySelector('input.column-choice[value=\"metrics.score\"]')")
    assert browser.click("document.querySelector('#apply-columns')")
    assert browser.wait("decodeURIComponent(location.search).includes('columns=params.lr,metrics.score')")
    assert browser.wait("Boolean(document.querySelector('#runs th[title=\"metrics.score\"]'))")
    assert browser.console_errors() == []


def test_run_pages(browser: Browser, ui_url: str, ui_store: UiStore) -> None:
    client, best = ui_store.client, ui_store.seeded.best_run
    assert best is not None
    assert browser.open(f"{ui_url}/runs/{best}?token={TOKEN}", "document.querySelector('#params')")
    assert browser.wait("document.querySelector('#lineage-img').complete && document.querySelector('#lineage-img').naturalWidth > 0")
    flow_run = client.get_run(best).flow_run_id
    assert browser.js("document.querySelector('#prefect-link').href") == f"http://127.0.0.1:4200/runs/flow-run/{flow_run}"
    assert browser.click("document.querySelector('button.preview-button[data-path=\"report/metrics.json\"]')")
    shown = browser.wait("document.querySelector('#artifact-preview .preview') && document.querySelector('#artifact-preview').innerText")
    assert shown and '"depth": 5' in shown
    assert browser.click("document.querySelector('button.preview-button[data-path=\"report/summary.txt\"]')")
    assert browser.wait("document.querySelector('#artifact-preview').innerText.includes(\"<script>alert('not run')</script>\")")
    assert browser.click("document.querySelector('button.preview-button[data-path=\"plots/roc.png\"]')")
    assert browser.wait("(() => { const i = document.querySelector('#artifact-preview img'); return i && i.complete && i.naturalWidth === 8; })()")
    _shot(browser, "run", full_page=True)
    assert browser.console_errors() == []

    fit = next(r.id for r in client.get_child_runs(best) if r.name.startswith("fit"))
    assert browser.open(f"{ui_url}/runs/{fit}", "document.querySelector('.metric-chart[data-key=\"loss\"]')")
    # The history drawn: read back from the chart (charts.js keeps what it drew in data-points) or the fallback table.
    drawn = browser.wait("""(() => {
      const e = document.querySelector('.metric-chart[data-key="loss"]');
      if (e.dataset.points) return JSON.parse(e.dataset.points)[0].points.length;
      const rows = e.querySelectorAll('tr'); return rows.length || null; })()""")
    assert drawn == HISTORY_STEPS
    _shot(browser, "task-run-metric-chart")
    assert browser.console_errors() == []
