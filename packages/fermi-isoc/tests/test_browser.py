"""Browser tests in real headless Chromium (Debian ``chromium`` driven by Playwright).

The page is served by uvicorn on 127.0.0.1 in a thread; screenshots go to
``packages/fermi-isoc/test-artifacts/browser/`` (or ``$FERMI_ISOC_ARTIFACTS``), which git ignores.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from fermi_core.db import get_engine
from fermi_core.engine.models import RerunRequest
from fermi_isoc.web.app import Settings, create_app

from ._pageworld import TOKEN, add_halfpipe, populate
from ._serve import serve

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = (
    Path(os.environ.get("FERMI_ISOC_ARTIFACTS", Path(__file__).parents[1] / "test-artifacts")) / "browser"
)

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).is_file(), reason=f"chromium not installed at {CHROMIUM} (apt-get install -y chromium)"
)


@pytest.fixture
def server(db, tmp_path):
    populate(db, tmp_path)
    app = create_app(Settings(db_url=db.url, operator_token=TOKEN, refresh_seconds=1))
    with serve(app) as url:
        yield url, db


@pytest.fixture
def page():
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            pg = browser.new_page(viewport={"width": 1280, "height": 900})
            pg.set_default_timeout(15_000)
            yield pg
        finally:
            browser.close()


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    assert (ARTIFACTS / f"{name}.png").stat().st_size > 1000


def _requests(db):
    with Session(get_engine(db.url)) as s:
        return s.scalars(select(RerunRequest)).all()


def test_task_runs_page_lists_runs_and_filter_works(server, page):
    url, _db = server
    page.goto(url + "/")
    assert page.locator("tr.delivery-row").count() == 2
    _shot(page, "01-status")
    page.goto(url + "/task-runs")
    assert page.locator("tr.run-row").count() == 5
    page.select_option("#state-filter", "failed")
    page.wait_for_url("**/task-runs?state=failed")
    assert page.locator("tr.run-row").count() == 1
    assert page.locator("tr.run-row").get_attribute("data-state") == "failed"
    _shot(page, "02-filter-failed")
    page.select_option("#state-filter", "")
    page.wait_for_function("document.querySelectorAll('tr.run-row').length === 5")


def test_live_refresh_shows_a_new_run_without_reload(server, page):
    url, db = server
    page.goto(url + "/task-runs")
    assert page.locator("tr.run-row").count() == 5
    db.run("L1Proc/r0796018000", "queued", age_h=0.0)
    page.wait_for_function("document.querySelectorAll('tr.run-row').length === 6", timeout=10_000)


def test_failed_run_rerun_needs_the_token(server, page):
    url, db = server
    page.goto(url + "/task-runs")
    page.click("#runs a[href='/runs/L1Proc/r0796003600']")
    page.wait_for_selector("#attempts-table")
    assert page.locator("tr.attempt-row").count() == 2
    _shot(page, "03-run-attempts")
    # without the token: refused, nothing recorded
    page.fill("#rerun-operator", "alice")
    page.fill("#rerun-reason", "EPU stream re-delivered")
    page.click("#rerun-submit")
    page.wait_for_selector("#message")
    assert "operator token missing or wrong" in page.inner_text("#message")
    _shot(page, "04-rerun-refused")
    assert _requests(db) == []
    # with the token: recorded with who and why
    page.goto(url + "/runs/L1Proc/r0796003600")
    page.select_option("#rerun-step", "L1Proc")
    page.fill("#rerun-operator", "alice")
    page.fill("#rerun-reason", "EPU stream re-delivered")
    page.fill("#rerun-token", TOKEN)
    page.click("#rerun-submit")
    page.wait_for_selector("#message")
    assert "requested by alice" in page.inner_text("#message")
    _shot(page, "05-rerun-accepted")
    # the request is fermi-l1's, for its driver to act on, with who and why
    (req,) = _requests(db)
    assert (req.run, req.step, req.requested_by, req.reason, req.origin, req.state) == (
        "L1Proc/r0796003600", "L1Proc", "alice", "EPU stream re-delivered", "web", "requested",
    )  # fmt: skip
    page.click("#message ~ p a")  # back to the run
    page.wait_for_selector("#rerun-requests")
    assert page.locator("tr.rerun-row").get_attribute("data-state") == "requested"
    assert "alice" in page.inner_text("tr.rerun-row")
    _shot(page, "06-rerun-request-state")


def test_delivery_lineage_shows_halfpipe_and_l1_states(server, page):
    url, db = server
    add_halfpipe(db)
    page.goto(url + "/")
    page.click("#deliveries a[href='/deliveries/260324002']")
    page.wait_for_selector("#lineage-runs")
    rows = page.locator("#lineage-runs tr.lineage-row")
    assert rows.count() == 3
    seen = []
    for i in range(3):
        row = rows.nth(i)
        cells = row.locator("td")
        seen.append((row.get_attribute("data-run"), cells.nth(2).inner_text(), cells.nth(3).inner_text()))
    assert seen == [
        ("796003600", "incomplete: 1200 / 0 / 4 (timed out waiting for EPU 1)", "failed"),
        ("796007200", "held back: 300 / 35 / 0", "held"),
        ("796099999", "rejected: 0 / 0 / 0 (bad run header)", "not started"),
    ]
    # the held-back state is the one an operator must notice: it stands out
    held = page.locator("#lineage-runs tr[data-run='796007200'] .hp-held")
    assert held.evaluate("e => getComputedStyle(e).fontWeight") == "700"
    _shot(page, "07-delivery-lineage-halfpipe")
    page.click("#lineage-runs a[href='/runs/L1Proc/r0796007200']")  # drill down to the held run
    page.wait_for_selector("#halfpipe-state")
    assert "held back" in page.inner_text("#halfpipe-state")


@pytest.fixture
def lat_server(db):
    """The grouped world (:func:`populate_lat_runs`) and 6 more runs done, 4 LAT runs per page."""
    from ._pageworld import populate_lat_runs, populate_many_lat_runs
    from .conftest import NOW

    populate_lat_runs(db)
    populate_many_lat_runs(db.url, NOW, 6, crumbs=4)
    app = create_app(Settings(db_url=db.url, operator_token=TOKEN, refresh_seconds=2, per_page=4))
    with serve(app) as url:
        yield url


def _runs_shown(page) -> list[str]:
    return [
        page.locator("tbody.lat-run").nth(i).get_attribute("data-run")
        for i in range(page.locator("tbody.lat-run").count())
    ]


def test_grouped_index_pages_and_filters_kept_in_the_url(lat_server, page):
    url = lat_server
    page.goto(url + "/")
    assert _runs_shown(page) == ["797018000", "797014400", "797010800", "797007200"]
    assert page.inner_text("#pager").startswith("12 LAT runs; page 1 of 3")
    group = page.locator("tbody.lat-run[data-run='797018000']")
    assert group.locator("td.step").all_inner_texts() == ["recon (4)", "runinput (1)", "l1run (1)"]
    _shot(page, "08-grouped-index")
    page.click("#page-next")
    page.wait_for_url("**/?page=2")
    assert _runs_shown(page) == ["797003600", "797000000", "796099999", "796014400"]
    # a filter: the form submits, the URL keeps it, a reload shows the same
    page.select_option("#state-filter", "not started")
    page.wait_for_url("**/?state=not+started**")
    assert _runs_shown(page) == ["796099999", "796010800", "796007200"]
    page.select_option("#hp-filter", "held")
    page.wait_for_url("**hp=held**")
    assert _runs_shown(page) == ["796007200"]
    page.reload()
    assert _runs_shown(page) == ["796007200"]
    assert page.locator("#state-filter").input_value() == "not started"
    assert page.locator("#hp-filter").input_value() == "held"
    held = page.locator("tbody.lat-run[data-run='796007200'] td.halfpipe .hp-held")
    assert held.inner_text() == "held" and held.evaluate("e => getComputedStyle(e).fontWeight") == "700"
    _shot(page, "09-filters-kept-after-reload")
    # the live refresh keeps the filters too
    page.wait_for_timeout(2500)
    assert _runs_shown(page) == ["796007200"]
    # the search box: a delivery id shows the runs its chunks carry; kept after a reload
    page.click("#clear-filters")
    page.fill("#search", "260324002")
    page.click("#search-submit")
    page.wait_for_url("**q=260324002**")
    page.reload()
    assert _runs_shown(page) == ["796099999", "796007200", "796003600"]
    assert page.locator("#search").input_value() == "260324002"
    _shot(page, "10-search-delivery")


def test_lat_run_page_shows_its_timeline(lat_server, page):
    url = lat_server
    page.goto(url + "/?q=796003600")
    page.click("a.lat-run-link[href='/lat-runs/796003600']")
    page.wait_for_selector("#timeline")
    bars = page.locator("#timeline rect.attempt")
    assert bars.count() == 4
    widths = [bars.nth(i).bounding_box()["width"] for i in range(4)]
    assert all(w >= 2 for w in widths)
    ticks = page.eval_on_selector_all("#timeline text.tick", "els => els.map(e => e.textContent)")
    assert ticks[0].startswith("2026-11-20") and len(ticks) >= 3
    assert "time (UTC)" in page.inner_text("#timeline-box")
    assert page.locator("#task-runs-table tr.task-run-row").count() == 3
    _shot(page, "11-lat-run-timeline")
    page.goto(url + "/lat-runs/796000000")
    assert page.locator("#products-table tr.product-row").count() == 3
    assert "latency 0:40:00" in page.inner_text("#latency")
    _shot(page, "12-lat-run-products-and-latency")
    for name in ("08-grouped-index", "09-filters-kept-after-reload", "11-lat-run-timeline"):
        print(f"screenshot: {ARTIFACTS / (name + '.png')}")
