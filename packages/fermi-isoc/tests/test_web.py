"""The status page through FastAPI's TestClient: rows, filter, drill-down, lineage, re-run rules."""

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from fermi_core.db import get_engine
from fermi_core.engine.models import RerunRequest
from fermi_isoc.web.app import Settings, create_app

from ._pageworld import TOKEN, add_halfpipe, populate


@pytest.fixture
def client(db, tmp_path):
    populate(db, tmp_path)
    app = create_app(Settings(db_url=db.url, operator_token=TOKEN, refresh_seconds=2))
    with TestClient(app, base_url="http://127.0.0.1:8080") as c:
        c.db = db
        yield c


def _requests(db):
    with Session(get_engine(db.url)) as s:
        return s.scalars(select(RerunRequest)).all()


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _task_counts(html: str) -> dict[str, str]:
    para = re.search(r'<p class="counts" id="state-counts">.*?</p>', html, re.S).group(0)
    return dict(re.findall(r'state-(\w+)">\1: <b>(\d+)</b>', para))


def test_index_and_task_runs_list_deliveries_and_runs_with_state_counts(client):
    html = client.get("/").text
    assert html.count('class="delivery-row"') == 2
    expected = {"queued": "1", "running": "1", "done": "1", "failed": "1", "crashed": "0",
                "held": "1", "late": "0", "cancelled": "0"}  # fmt: skip
    assert _task_counts(html) == expected
    assert 'src="/static/htmx.min.js"' in html and 'hx-trigger="every 2s"' in html
    assert "Alarms firing" in html  # the always-firing watchdog at least
    flat = client.get("/task-runs").text
    assert flat.count('class="run-row"') == 5 and _task_counts(flat) == expected


def test_htmx_is_vendored_with_its_license():
    from pathlib import Path

    import fermi_isoc.web

    static = Path(fermi_isoc.web.__file__).parent / "static"
    js = (static / "htmx.min.js").read_text()
    assert js.startswith("/*! htmx 2.0.11") and "Zero-Clause BSD" in js.splitlines()[0]
    assert "Zero-Clause BSD" in (static / "htmx.LICENSE.txt").read_text()


def test_filter_by_state(client):
    html = client.get("/fragments/runs", params={"state": "failed"}).text
    assert re.findall(r'data-state="(\w+)"', html) == ["failed"]
    assert "L1Proc/r0796003600" in html
    assert "no run in state late" in client.get("/fragments/runs?state=late").text
    assert client.get("/fragments/runs?state=bogus").status_code == 400


def test_run_drill_down_shows_attempts_and_the_log(client):
    html = client.get("/runs/L1Proc/r0796003600").text
    rows = re.findall(r'<tr class="attempt-row">(.*?)</tr>', html, re.S)
    assert len(rows) == 2
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", r, re.S) for r in rows]
    assert [c[:5] for c in cells] == [
        ["L1Proc", "1", "crashed", "137", "rome0003"],
        ["L1Proc", "2", "failed", "1", "rome0004"],
    ]
    assert cells[0][7] == "0:03:00"
    log = client.get("/runs/L1Proc/r0796003600/log/L1Proc/2")
    assert log.status_code == 200 and "EPU 1 stream truncated" in log.text
    assert client.get("/runs/L1Proc/r0796003600/log/L1Proc/9").status_code == 404
    assert client.get("/runs/L1Proc/nope").status_code == 404


def test_delivery_shows_gaps_quarantine_and_lineage(client):
    html = client.get("/deliveries/260324002").text
    assert "bad-length" in html and "/quarantine/x.bin" in html
    gap_rows = re.search(r'id="gaps-table".*?</table>', html, re.S).group(0)
    assert "<td>957</td>" in gap_rows and "<td>open</td>" in gap_rows
    lineage = re.search(r'id="lineage-runs".*?</table>', html, re.S).group(0)
    assert "L1Proc/r0796003600" in lineage and "L1Proc/r0796000000" not in lineage
    assert "796003600" in re.search(r'id="chunks-table".*?</table>', html, re.S).group(0)
    assert client.get("/deliveries/nope").status_code == 404


def test_delivery_lineage_shows_the_halfpipe_state_of_each_run_next_to_the_l1_state(client):
    add_halfpipe(client.db)
    html = client.get("/deliveries/260324002").text
    lineage = re.search(r'id="lineage-runs".*?</table>', html, re.S).group(0)
    rows = re.findall(
        r'<tr class="lineage-row" data-run="(\d+)" data-state="(\w*)">.*?data-halfpipe="(\w*)">(.*?)</td>',
        lineage,
        re.S,
    )
    assert [(run, l1, hp) for run, l1, hp, _ in rows] == [
        ("796003600", "failed", "incomplete"), ("796007200", "held", "held"), ("796099999", "", "rejected"),
    ]  # fmt: skip
    text = {run: re.sub(r"<[^>]+>", "", cell) for run, _, _, cell in rows}
    assert text == {
        "796003600": "incomplete: 1200 / 0 / 4 (timed out waiting for EPU 1)",
        "796007200": "held back: 300 / 35 / 0",
        "796099999": "rejected: 0 / 0 / 0 (bad run header)",
    }
    assert "not started" in lineage.split('data-run="796099999"')[1]


def test_delivery_lineage_shows_the_published_held_and_overdue_states_not_the_stored_open(client):
    """An open halfpipe run is ``held`` until its deadline, ``overdue`` after it (judged per request)."""
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import update

    from fermi_core.db import session_scope
    from fermi_halfpipe.models import HalfpipeRun

    add_halfpipe(client.db)

    def cell() -> tuple[str, str]:
        html = client.get("/deliveries/260324002").text
        m = re.search(
            r'<tr class="lineage-row" data-run="796007200".*?data-halfpipe="(\w*)">(.*?)</td>', html, re.S
        )
        return m.group(1), re.sub(r"<[^>]+>", "", m.group(2))

    due = datetime.now(timezone.utc) + timedelta(hours=5)
    with session_scope(client.db.url) as s:
        s.execute(update(HalfpipeRun).where(HalfpipeRun.run_id == 796007200).values(deadline_utc=due))
    state, text = cell()
    assert state == "held" and text.startswith("held back: 300 / 35 / 0; due ") and "open" not in text
    with session_scope(client.db.url) as s:
        s.execute(
            update(HalfpipeRun)
            .where(HalfpipeRun.run_id == 796007200)
            .values(deadline_utc=due - timedelta(hours=6))
        )
    state, text = cell()
    assert state == "overdue" and text.startswith("overdue: 300 / 35 / 0")


def _rerun(client, token=TOKEN, csrf=None, **fields):
    page = client.get("/runs/L1Proc/r0796003600").text
    data = {"run": "L1Proc/r0796003600", "step": "", "operator": "alice", "reason": "EPU stream re-delivered",
            "token": token, "csrf_token": _csrf(page) if csrf is None else csrf, **fields}  # fmt: skip
    return client.post("/rerun", data=data)


def test_rerun_with_token_is_recorded_with_who_and_why(client):
    r = _rerun(client)
    assert (
        r.status_code == 200 and "Re-run of the whole run of L1Proc/r0796003600 requested by alice" in r.text
    )
    (req,) = _requests(client.db)
    assert (req.run, req.step, req.requested_by, req.reason, req.origin) == (
        "L1Proc/r0796003600", None, "alice", "EPU stream re-delivered", "web",
    )  # fmt: skip


def test_rerun_refused_without_or_with_a_wrong_token(client):
    for token in ("", "guess"):
        r = _rerun(client, token=token)
        assert r.status_code == 403 and "operator token missing or wrong" in r.text
    assert _requests(client.db) == []


def test_rerun_refused_without_csrf_or_from_another_site(client):
    r = _rerun(client, csrf="forged-token-forged-token-forged-token")
    assert r.status_code == 400 and "CSRF token does not match" in r.text
    client.cookies.clear()
    r = client.post(
        "/rerun", data={"run": "L1Proc/r0796003600", "operator": "a", "reason": "why not", "token": TOKEN}
    )
    assert r.status_code == 400 and "missing CSRF token" in r.text
    page = client.get("/runs/L1Proc/r0796003600").text
    r = client.post(
        "/rerun",
        data={
            "run": "L1Proc/r0796003600",
            "operator": "a",
            "reason": "x" * 5,
            "token": TOKEN,
            "csrf_token": _csrf(page),
        },
        headers={"Origin": "http://evil.example"},
    )
    assert r.status_code == 400 and "cross-site request from http://evil.example refused" in r.text
    assert _requests(client.db) == []


def test_rerun_of_a_step_that_did_not_fail_or_a_busy_run_is_refused(client):
    r = _rerun(client, step="digi")
    assert r.status_code == 404 and "run L1Proc/r0796003600 has no step &#39;digi&#39;" in r.text
    page = client.get("/runs/L1Proc/r0796000000").text
    data = {"run": "L1Proc/r0796000000", "step": "L1Proc", "operator": "a", "reason": "again", "token": TOKEN,
            "csrf_token": _csrf(page)}  # fmt: skip
    r = client.post("/rerun", data=data)
    assert (
        r.status_code == 409
        and "step L1Proc of L1Proc/r0796000000 is done: only a failed or crashed" in r.text
    )
    r = client.post("/rerun", data={**data, "run": "L1Proc/r0796007200", "step": ""})
    assert r.status_code == 409 and "run L1Proc/r0796007200 is held" in r.text
    assert _rerun(client, reason="").status_code == 422
    assert _requests(client.db) == []
    # a finished run can be redone as a whole; a second request while the first is pending is refused
    assert client.post("/rerun", data={**data, "step": ""}).status_code == 200
    r = client.post("/rerun", data={**data, "step": ""})
    assert r.status_code == 409 and "already requested" in r.text


def test_run_page_shows_the_request_state_and_the_halfpipe_state(client):
    from fermi_core.db import session_scope
    from fermi_core.engine import rerun
    from fermi_halfpipe.models import HalfpipeRun

    with session_scope(client.db.url) as s:
        s.add(HalfpipeRun(run_id=796003600, status="open", n_delivered=1200, n_held=35, n_late=4))
        s.add(HalfpipeRun(run_id=796000000, status="complete", n_delivered=900, n_held=0, n_late=0))
    html = client.get("/runs/L1Proc/r0796003600").text
    # the published state (an open run is held or overdue), not the stored status "open"
    assert 'Halfpipe: <b class="hp-held">held back</b>, events delivered 1200, held back 35, late 4' in html
    assert "no re-run request" in html
    assert _rerun(client).status_code == 200
    row = re.search(
        r'<tr class="rerun-row" data-state="(\w+)">(.*?)</tr>',
        client.get("/runs/L1Proc/r0796003600").text,
        re.S,
    )
    assert (
        row.group(1) == "requested" and "alice" in row.group(2) and "EPU stream re-delivered" in row.group(2)
    )
    # the driver's pass requeues the run; once it is final the request is done with its attempts
    assert rerun.claim_pending(client.db.url) != []
    assert (
        re.search(
            r'data-state="(\w+)"', client.get("/runs/L1Proc/r0796003600").text.split("rerun-requests")[1]
        ).group(1)
        == "queued"
    )
    client.db.run_attempt("L1Proc/r0796003600", 3, "done")
    assert rerun.settle(client.db.url) != []
    html = client.get("/runs/L1Proc/r0796003600").text
    row = re.search(r'<tr class="rerun-row" data-state="done">(.*?)</tr>', html, re.S).group(1)
    (attempt_id,) = client.db.attempt_ids("L1Proc/r0796003600", numbers=(3,))
    assert f'<td class="rerun-attempts">{attempt_id}</td>' in row
    runs = client.get("/fragments/runs").text
    cells = dict(
        re.findall(r'<a href="/runs/(L1Proc/r\d+)">.*?<td class="halfpipe" data-halfpipe="(\w*)"', runs, re.S)
    )
    assert cells["L1Proc/r0796003600"] == "held" and cells["L1Proc/r0796000000"] == "complete"
    assert cells["L1Proc/r0796007200"] == ""
    assert "held back</span>: 1200 / 35 / 4" in runs


def test_no_configured_token_disables_writes(db, tmp_path):
    populate(db, tmp_path)
    app = create_app(Settings(db_url=db.url, operator_token=None))
    with TestClient(app, base_url="http://127.0.0.1:8080") as c:
        page = c.get("/runs/L1Proc/r0796003600").text
        assert "Write actions are disabled" in page
        r = c.post("/rerun", data={"run": "L1Proc/r0796003600", "operator": "a", "reason": "why", "token": "",
                                   "csrf_token": _csrf(page)})  # fmt: skip
        assert r.status_code == 403 and "no operator token is configured" in r.text


def test_alarms_page_and_metrics(client):
    html = client.get("/alarms").text
    assert "dead-mans-switch" in html and "watchdog" in html
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert 'fermi_isoc_alarm_firing{alarm="watchdog",quantity="watchdog",key="watchdog"} 1' in metrics.text
    assert (
        'fermi_isoc_alarm_severity{alarm="failed-attempts",quantity="failed_attempts",key="L1Proc/r0796003600"} '
        in metrics.text
    )


def test_rerun_from_the_command_line(client, capsys):
    from fermi_isoc.cli import main

    argv = ["rerun", "L1Proc/r0796003600", "--reason", "retry after fix", "--operator", "bob"]
    assert main(argv) == 0
    assert "recorded: L1Proc/r0796003600 (whole run) by bob" in capsys.readouterr().out
    assert main(["rerun", "L1Proc/r0796007200", "--reason", "held run"]) == 1
    assert "run L1Proc/r0796007200 is held" in capsys.readouterr().out
    (req,) = _requests(client.db)
    assert (req.requested_by, req.origin) == ("bob", "cli")


# --- the index grouped by LAT run (issue 17) -------------------------------------------------


@pytest.fixture
def lat_client(db_url):
    """The grouped world on each backend (SQLite, PostgreSQL)."""
    from ._pageworld import populate_lat_runs
    from .conftest import Db

    get_engine(db_url)
    db = Db(db_url)
    populate_lat_runs(db)
    app = create_app(Settings(db_url=db.url, operator_token=TOKEN, refresh_seconds=2, per_page=4))
    with TestClient(app, base_url="http://127.0.0.1:8080") as c:
        c.db = db
        yield c


def _lat_rows(html: str) -> list[tuple[str, str, str]]:
    return re.findall(
        r'<tbody class="lat-run" data-run="(\d+)" data-l1-state="([\w ]+)" data-halfpipe="(\w*)">', html
    )


def _group(html: str, run_id: int) -> str:
    return re.search(rf'<tbody class="lat-run" data-run="{run_id}".*?</tbody>', html, re.S).group(0)


def _text(fragment: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment)).strip()


def test_index_groups_task_runs_by_lat_run_with_halfpipe_state_steps_and_products(lat_client):
    from ._pageworld import LAT_WORLD, LATENCY_MIN

    html = lat_client.get("/?page=2").text
    everything = _lat_rows(lat_client.get("/").text) + _lat_rows(html)
    assert everything == [(str(r), l1, hp) for r, (hp, l1) in sorted(LAT_WORLD.items(), reverse=True)]
    # halfpipe counts over every run, every state listed; L1 counts over every LAT run
    hp = dict(re.findall(r'class="hp-(\w+)" href="[^"]*">\1: <b>(\d+)</b>', html))
    assert hp == {
        "held": "1",
        "overdue": "1",
        "complete": "1",
        "incomplete": "1",
        "rejected": "1",
        "accepted": "1",
        "mismatch": "0",  # a configuration-key mismatch (none in this world)
    }
    l1 = dict(re.findall(r'class="state-([\w-]+)" href="[^"]*">[\w ]+: <b>(\d+)</b>', html))
    assert (l1["done"], l1["failed"], l1["running"], l1["not-started"]) == ("1", "1", "1", "3")
    done = _group(html, 796000000)
    steps = re.findall(r'<td class="step" data-step="(\w+)">\w+ \((\d+)\)</td>\s*<td>(.*?)</td>', done, re.S)
    assert [(s, n, _text(c)) for s, n, c in steps] == [
        ("recon", "3", "done 3"), ("runinput", "1", "done 1"), ("l1run", "1", "done 1"),
    ]  # fmt: skip
    # crumbs folded: 3 attempts of 10 min each, the last one started 60 s after submission
    recon = _text(re.search(r'<td class="step" data-step="recon">.*?</tr>', done, re.S).group(0))
    assert recon == "recon (3) done 3 3 0:30:00 0:11:00 0:01:30 (0:01:00) FT1 v1 , FT1 v2* , FT2 v1* 0:40:00"
    assert f"0:{LATENCY_MIN}:00" in _text(re.search(r'class="latency">.*?</td>', done, re.S).group(0))
    failed = _text(_group(html, 796003600))
    assert "incomplete 1196 events, 4 lost (EPU 1 datagram gap at the deadline)" in failed
    assert "done 2 , failed 1" in failed and "4 (2)" in failed
    page1 = lat_client.get("/").text
    assert "held 300 events, 35 held" in _text(_group(page1, 796007200))
    assert "no L1 step yet" in _group(page1, 796099999) and "260324002" in _group(page1, 796099999)


def test_filters_search_and_pages_are_in_the_url(lat_client):
    def runs(url):
        r = lat_client.get(url)
        assert r.status_code == 200, r.text
        return [int(run) for run, _, _ in _lat_rows(r.text)]

    assert runs("/?state=failed") == [796003600]
    assert runs("/?state=not+started") == [796099999, 796010800, 796007200]
    assert runs("/?hp=held") == [796007200] and runs("/?hp=overdue") == [796010800]
    assert runs("/?q=260324002") == [796099999, 796007200, 796003600]  # a delivery id: the runs it carried
    assert runs("/?q=r0796000000") == runs("/?q=796000000") == [796000000]
    assert runs("/?q=123") == []
    assert runs("/?state=not+started&hp=held") == [796007200]
    # pages: 4 per page; the links keep the filters; the live refresh asks for the same view
    html = lat_client.get("/?state=not+started&page=1").text
    assert '3 LAT runs match; page <b id="page-number">1</b> of 1' in html
    html = lat_client.get("/").text
    assert re.search(r'id="page-next" href="/\?page=2"', html)
    html = lat_client.get("/?hp=complete&q=796000000").text
    assert 'hx-get="/fragments/lat-runs?hp=complete&amp;q=796000000"' in html
    assert 'name="q" type="search" value="796000000"' in html
    assert '<option value="complete" selected>' in html
    frag = lat_client.get("/fragments/lat-runs?state=failed").text
    assert [r for r, _, _ in _lat_rows(frag)] == ["796003600"] and "<html" not in frag
    for bad in ("/?state=bogus", "/?hp=bogus", "/?page=0", "/?q=" + "9" * 70):
        assert lat_client.get(bad).status_code == 400, bad


def test_pages_and_counts_cover_every_run(lat_client):
    from ._pageworld import populate_many_lat_runs
    from .conftest import NOW

    populate_many_lat_runs(lat_client.db.url, NOW, 30, crumbs=3)
    html = lat_client.get("/").text
    assert '36 LAT runs; page <b id="page-number">1</b> of 9' in html
    l1 = dict(re.findall(r'class="state-([\w-]+)" href="[^"]*">[\w ]+: <b>(\d+)</b>', html))
    assert l1["done"] == "31" and l1["failed"] == "1"  # the failed run is counted though on page 9
    last = lat_client.get("/?page=9").text
    assert [r for r, _, _ in _lat_rows(last)] == ["796010800", "796007200", "796003600", "796000000"]
    assert 'id="page-previous" href="/?page=8"' in last and "page-next" not in last
    assert _lat_rows(lat_client.get("/?page=10").text) == []


def test_lat_run_page_has_a_utc_timeline_steps_products_and_task_runs(lat_client):
    html = lat_client.get("/lat-runs/796003600").text
    svg = re.search(r"<svg.*?</svg>", html, re.S).group(0)
    bars = re.findall(r'<rect class="attempt" data-state="(\w+)"', svg)
    assert sorted(bars) == ["crashed", "done", "done", "failed"]
    assert svg.count('class="queue"') == 4 and "time (UTC)" in svg
    ticks = re.findall(r'<text class="tick"[^>]*>([^<]+)</text>', svg)
    assert ticks[0].startswith("2026-11-20 ") and len(ticks) >= 3  # the first tick carries the date
    assert all(re.fullmatch(r"(2026-11-20 )?\d\d:\d\d(:\d\d)?", t) for t in ticks)
    assert "delivery 260324002 received" in svg
    assert "r0796003600.c0000.k002 attempt 2 failed: 2026-11-20 11:03:03 to 2026-11-20 11:04:03 UTC" in svg
    rows = re.findall(
        r'<tr class="task-run-row" data-state="(\w+)"><td>(\w+)</td><td><a href="([^"]+)"', html
    )
    assert ("failed", "recon", "/runs/recon/r0796003600.c0000.k002") in rows and len(rows) == 3
    assert "first FT1 exported —; latency <b>—</b>" in html  # no FT1 yet: no time, no stray "UTC"
    assert lat_client.get("/runs/recon/r0796003600.c0000.k002").status_code == 200
    done = lat_client.get("/lat-runs/796000000").text
    products = re.findall(
        r'<tr class="product-row" data-type="(\w+)" data-version="(\d)">.*?<td>(latest|superseded)</td>',
        done,
        re.S,
    )
    assert products == [("FT1", "1", "superseded"), ("FT1", "2", "latest"), ("FT2", "1", "latest")]
    assert "first FT1 exported" in done and "latency <b>0:40:00</b>" in done
    svg = lat_client.get("/lat-runs/796000000/timeline.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml") and svg.text.startswith("<svg")
    held = lat_client.get("/lat-runs/796007200").text
    assert "no attempt" not in held and '<b class="hp-held">held</b>, 300 events, 35 held' in held
    assert "deadline 2100-01-01 00:00:00 UTC" in held
    assert lat_client.get("/lat-runs/123").status_code == 404


def test_alarms_link_to_their_runbook_pages(lat_client, tmp_path):
    html = lat_client.get("/").text
    links = dict(re.findall(r'data-alarm="([\w-]+)">.*?<a class="runbook" href="/runbook/([\w-]+)"', html))
    assert links["watchdog"] == "watchdog" and links["run-overdue"] == "overdue-run"
    assert links["run-rejected"] == "rejected-run" and links["failed-attempts"] == "failed-step"
    alarms = lat_client.get("/alarms").text
    assert '<a class="runbook" href="/runbook/overdue-run"' in alarms
    # every alarm of the default file has rows on /alarms, each linking its own page, which is served
    from fermi_isoc.alarms import load_alarms

    want = {spec.name: spec.runbook for spec in load_alarms(None)}
    rows = re.findall(r'<tr class="alarm-row" data-alarm="([\w-]+)".*?</tr>', alarms, re.S)
    linked = dict(re.findall(r'<tr class="alarm-row" data-alarm="([\w-]+)".*?<a class="runbook" '
                             r'href="/runbook/([\w-]+)"', alarms, re.S))  # fmt: skip
    assert set(rows) == set(want) and linked == want
    assert [p for p in set(linked.values()) if lat_client.get(f"/runbook/{p}").status_code != 200] == []
    folder = tmp_path / "ops"
    folder.mkdir()
    (folder / "overdue-run.md").write_text(
        "# An overdue run\n\nType `fermi-halfpipe settle`.\n\n<script>x</script>\n"
    )
    app = create_app(Settings(db_url=lat_client.db.url, runbook_dir=str(folder)))
    with TestClient(app, base_url="http://127.0.0.1:8080") as c:
        page = c.get("/runbook/overdue-run")
        assert page.status_code == 200 and "<h1>An overdue run</h1>" in page.text
        assert "<code>fermi-halfpipe settle</code>" in page.text and "<script>x</script>" not in page.text
        assert c.get("/runbook/overdue-run.md").status_code == 200  # the pages link each other so
        missing = c.get("/runbook/no-such-page")
        assert missing.status_code == 404 and "no-such-page.md cannot be read" in missing.text
        assert c.get("/runbook/..%2Fsecret").status_code == 404


# --- hardening: trusted hosts and the wrong-token limit ---------------------------------------


def test_only_trusted_host_names_are_served(db, monkeypatch):
    from fermi_isoc.web.security import TRUSTED_HOSTS_ENV

    monkeypatch.setenv(TRUSTED_HOSTS_ENV, "ops.example.org, isoc.lab")
    app = create_app(Settings(db_url=db.url, trusted_hosts=("isoc.example.org",)))
    for host in ("127.0.0.1:8080", "localhost", "isoc.example.org", "ops.example.org:443", "ISOC.lab"):
        assert TestClient(app, base_url=f"http://{host}").get("/healthz").status_code == 200, host
    for host in ("evil.example", "127.0.0.1.nip.io", "isoc.example.org.evil.example"):
        r = TestClient(app, base_url=f"http://{host}").get("/")
        assert r.status_code == 400 and "Invalid host header" in r.text, host
    with pytest.raises(ValueError, match="'\\*' is not a host name"):
        create_app(Settings(db_url=db.url, trusted_hosts=("*",)))
    monkeypatch.setenv(TRUSTED_HOSTS_ENV, "host:8080")
    with pytest.raises(ValueError, match="FERMI_ISOC_TRUSTED_HOSTS: 'host:8080' is not a host name"):
        create_app(Settings(db_url=db.url))


def test_wrong_tokens_are_limited_per_client_with_a_clear_429(client):
    codes = [_rerun(client, token=f"guess{i}").status_code for i in range(5)]
    assert codes == [403] * 5
    r = _rerun(client, token="guess5")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert "too many wrong operator tokens from testclient: 5 within 5 min" in r.text
    assert _rerun(client).status_code == 429  # even the right token: a lockout is no oracle
    page = client.get("/alarms").text
    r = client.post("/alarms/ack", data={"alarm": "failed-attempts", "key": "L1Proc/r0796003600", "operator": "a",
                                         "token": TOKEN, "csrf_token": _csrf(page)})  # fmt: skip
    assert r.status_code == 429
    assert _requests(client.db) == []
    assert client.get("/").status_code == 200  # reading is not limited


def test_the_failure_limiter_forgets_failures_outside_its_window():
    from fermi_isoc.web.security import FailureLimiter

    now = [1000.0]
    limiter = FailureLimiter(3, 60.0, clock=lambda: now[0], max_clients=2)
    for _ in range(3):
        assert limiter.refusal("10.0.0.1") is None
        limiter.failed("10.0.0.1")
        now[0] += 10
    message, wait = limiter.refusal("10.0.0.1")
    assert wait == 30 and "3 within 1 min" in message and limiter.refusal("10.0.0.2") is None
    now[0] += 30  # the first failure leaves the window
    assert limiter.refusal("10.0.0.1") is None
    limiter.failed("10.0.0.2")
    limiter.failed("10.0.0.3")  # a third client: the one with the oldest failure is forgotten
    assert limiter.retry_after("10.0.0.1") == 0
    with pytest.raises(ValueError):
        FailureLimiter(0, 60)


def test_no_configured_token_does_not_count_as_a_wrong_guess(db, tmp_path):
    populate(db, tmp_path)
    app = create_app(Settings(db_url=db.url, operator_token=None, token_failures=1))
    with TestClient(app, base_url="http://127.0.0.1:8080") as c:
        for _ in range(3):
            page = c.get("/runs/L1Proc/r0796003600").text
            r = c.post("/rerun", data={"run": "L1Proc/r0796003600", "operator": "a", "reason": "why", "token": "x",
                                       "csrf_token": _csrf(page)})  # fmt: skip
            assert r.status_code == 403 and "no operator token is configured" in r.text


def test_every_alarms_runbook_page_is_served_from_the_repository(db):
    from fermi_isoc.alarms import load_alarms

    app = create_app(Settings(db_url=db.url))
    pages = sorted({spec.runbook for spec in load_alarms(None) if spec.runbook})
    assert pages
    with TestClient(app, base_url="http://127.0.0.1:8080") as c:
        for name in pages:
            r = c.get(f"/runbook/{name}")
            assert r.status_code == 200 and "<h1>" in r.text, name


def test_serve_takes_trusted_hosts_token_limits_and_cache(monkeypatch):
    from fermi_isoc.cli import build_parser

    args = build_parser().parse_args(
        ["serve", "--trusted-host", "isoc.example.org", "--trusted-host", "ops.lab", "--token-failures", "3"]
    )
    assert args.trusted_host == ["isoc.example.org", "ops.lab"] and args.token_failures == 3
    assert args.token_window == 300.0 and args.cache_seconds == 2.0
    bad = build_parser().parse_args(["serve", "--token-failures", "0"])
    assert args.handler(bad) == 2
