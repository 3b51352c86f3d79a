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


def test_index_lists_deliveries_and_runs_with_state_counts(client):
    html = client.get("/").text
    assert html.count('class="run-row"') == 5
    assert html.count('class="delivery-row"') == 2
    counts = dict(re.findall(r'state-(\w+)">\1: <b>(\d+)</b>', html))
    assert counts == {"queued": "1", "running": "1", "done": "1", "failed": "1", "crashed": "0",
                      "held": "1", "late": "0", "cancelled": "0"}  # fmt: skip
    assert 'src="/static/htmx.min.js"' in html and 'hx-trigger="every 2s"' in html
    assert "Alarms firing" in html  # the always-firing watchdog at least


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
        ("796003600", "failed", "incomplete"), ("796007200", "held", "open"), ("796099999", "", "rejected"),
    ]  # fmt: skip
    text = {run: re.sub(r"<[^>]+>", "", cell) for run, _, _, cell in rows}
    assert text == {
        "796003600": "force-completed: 1200 / 0 / 4 (timed out waiting for EPU 1)",
        "796007200": "held back: 300 / 35 / 0",
        "796099999": "rejected: 0 / 0 / 0 (bad run header)",
    }
    assert "not started" in lineage.split('data-run="796099999"')[1]


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
    assert 'Halfpipe: <b class="hp-open">held back</b>, events delivered 1200, held back 35, late 4' in html
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
    assert cells["L1Proc/r0796003600"] == "open" and cells["L1Proc/r0796000000"] == "complete"
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
