"""Browser test of a run's data-quality page in real headless Chromium (as :mod:`.test_browser`):
the verdict, the failing checks, the monitoring plots loaded as images, the bad time intervals,
the sign-off form with the operator token, and the DQ badge of the index.

Screenshots go to ``packages/fermi-isoc/test-artifacts/browser/`` (or ``$FERMI_ISOC_ARTIFACTS``),
which git ignores; their paths are printed (``pytest -s`` shows them).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fermi_core.db import get_engine
from fermi_isoc.cli import main
from fermi_isoc.web.app import Settings, create_app

from ._pageworld import TOKEN
from ._serve import serve
from .test_browser import ARGS, ARTIFACTS, CHROMIUM, sync_api
from .test_dq import BAD, MISMATCHED, populate_dq

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).is_file(),
    reason=f"chromium not installed at {CHROMIUM} (apt-get install -y chromium)",
)


@pytest.fixture
def dq_server(db, capsys):
    populate_dq(db.url)
    main(["dq", "flag", "--start", str(BAD + 100), "--stop", str(BAD + 400), "--reason", "solar flare X1.2",
          "--who", "bob"])  # fmt: skip
    capsys.readouterr()
    get_engine(db.url)
    app = create_app(Settings(db_url=db.url, operator_token=TOKEN, refresh_seconds=60))
    with serve(app) as url:
        yield url


@pytest.fixture
def page():
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            pg = browser.new_page(viewport={"width": 1280, "height": 1000})
            pg.set_default_timeout(15_000)
            yield pg
        finally:
            browser.close()


def _shot(page, name: str) -> str:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000
    print(f"screenshot: {path}")
    return str(path)


def test_run_data_quality_page_shows_verdict_plots_and_signs_off(dq_server, page):
    url = dq_server
    page.goto(f"{url}/lat-runs/{BAD}/dq")
    assert page.get_attribute("#dq-verdict", "data-verdict") == "bad"
    assert page.inner_text("#dq-verdict-value") == "bad"
    assert page.locator("tr.dq-check-row").count() == 1
    assert "tkr_hits" in page.inner_text("tr.dq-check-row") and "tower 3 layer 7" in page.inner_text(
        "#dq-checks"
    )
    # the plots are real images the browser decoded (served PNGs, not broken links)
    plots = page.locator("img.dq-plot")
    assert plots.count() == 2
    page.wait_for_function(
        "Array.from(document.querySelectorAll('img.dq-plot')).every(i => i.complete && i.naturalWidth > 100)"
    )
    assert page.locator("tr.dq-interval-row").count() == 1 and "solar flare X1.2" in page.inner_text(
        "#dq-intervals"
    )
    _shot(page, "dq-01-run-bad-with-plots")

    # sign-off: refused without the token, then recorded with it
    page.fill("#signoff-operator", "dave")
    page.fill("#signoff-reason", "TKR tower 3 layer 7 dead")
    page.select_option("#signoff-verdict", "bad")
    page.click("#signoff-submit")
    page.wait_for_selector("#message")
    assert "operator token missing or wrong" in page.inner_text("#message")
    page.goto(f"{url}/lat-runs/{BAD}/dq")
    page.fill("#signoff-operator", "dave")
    page.fill("#signoff-reason", "TKR tower 3 layer 7 dead")
    page.select_option("#signoff-verdict", "bad")
    page.fill("#signoff-token", TOKEN)
    page.click("#signoff-submit")
    page.wait_for_selector("#message")
    assert f"Run {BAD} signed off bad by dave" in page.inner_text("#message")
    assert page.inner_text("#dq-signoff") == "bad"
    _shot(page, "dq-02-run-signed-off")

    # the run held for a configuration-key mismatch: both keys named
    page.goto(f"{url}/lat-runs/{MISMATCHED}/dq")
    assert "held: configuration key mismatch" in page.inner_text("#dq-verdict")
    assert "0x00001F45 in the data, 0x00001F44 planned" in page.inner_text("#dq-halfpipe")
    _shot(page, "dq-03-run-key-mismatch")

    # the runs by verdict, to a run's page
    page.goto(f"{url}/dq?verdict=warning")
    assert page.locator("tr.dq-run-row").count() == 2
    _shot(page, "dq-04-runs-by-verdict")
    page.click(f"#dq-runs a[href='/lat-runs/{BAD + 7200}/dq']")
    page.wait_for_selector("#dq-verdict")
    assert page.get_attribute("#dq-verdict", "data-verdict") == "warning"


@pytest.fixture
def simulated_server(tmp_path, monkeypatch):
    """A short simulated span with ``dead-tracker-layers`` through ingest, halfpipe and L1 (real plots)."""
    import contextlib
    import io

    from fermi_halfpipe.cli import main as halfpipe
    from fermi_ingest.cli import main as ingest
    from fermi_l1.cli import main as l1
    from fermi_latsim.simulate import FAULTS, SimulationConfig, simulate

    if "dead-tracker-layers" not in FAULTS:
        pytest.skip("the simulator has no dead-tracker-layers fault")
    home = tmp_path / "home"
    url = f"sqlite:///{tmp_path / 'fermi.db'}"
    monkeypatch.setenv("FERMI_HOME", str(home))
    monkeypatch.setenv("FERMI_DB_URL", url)
    summary = simulate(home / "latsim", SimulationConfig(hours=0.1, seed=5, faults=("dead-tracker-layers",)))
    with contextlib.redirect_stdout(io.StringIO()):
        for d in summary["deliveries"]:
            assert ingest(["ingest", str(home / "latsim" / "deliveries" / d["delivery_id"])]) == 0
            assert halfpipe(["merge", d["delivery_id"]]) == 0
        assert l1(["pipeline", "--from-halfpipe", "--no-progress", "--workers", "1"]) == 0
    app = create_app(Settings(db_url=url, operator_token=TOKEN, refresh_seconds=60))
    with serve(app) as url:
        yield url, summary


def test_simulated_run_with_dead_tracker_layers_shows_its_real_plots(simulated_server, page):
    url, summary = simulated_server
    run = max(r["run"] for r in summary["runs"])  # the longest run of the span has enough events
    page.goto(f"{url}/")
    badge = page.locator(f"tbody.lat-run[data-run='{run}'] a.dq-badge")
    assert badge.get_attribute("data-verdict") == "bad"
    _shot(page, "dq-05-index-with-dq-badges")
    badge.click()
    page.wait_for_selector("#dq-verdict")
    assert page.get_attribute("#dq-verdict", "data-verdict") == "bad"
    assert page.locator("tr.dq-check-row[data-quantity='tkr_hits'][data-severity='error']").count() >= 1
    assert "tower 5" in page.inner_text("#dq-checks")
    assert page.locator("img.dq-plot").count() >= 3  # the monitoring's matplotlib PNGs of the run step
    page.wait_for_function(
        "Array.from(document.querySelectorAll('img.dq-plot')).every(i => i.complete && i.naturalWidth > 100)"
    )
    _shot(page, "dq-06-simulated-run-dead-tracker-layers")
