"""Alarm acknowledgements (page, paging, lapse on a severity change) and the job watchdog."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from fermi_core.db import get_engine
from fermi_isoc.alarms import Context, Severity, evaluate, load_alarms, worst
from fermi_isoc.cli import main
from fermi_isoc.jobs import JobBusy, job_records, job_run
from fermi_isoc.models import AlarmAck, JobRecord
from fermi_isoc.web.app import Settings, create_app

from ._pageworld import TOKEN, populate

ITEM = 'alarm="failed-attempts",quantity="failed_attempts",key="L1Proc/r0796003600"'


@pytest.fixture
def client(db, tmp_path):
    populate(db, tmp_path)
    app = create_app(Settings(db_url=db.url, operator_token=TOKEN))
    with TestClient(app, base_url="http://127.0.0.1:8080") as c:
        c.db = db
        yield c


def _ack(client, token=TOKEN, alarm="failed-attempts", key="L1Proc/r0796003600"):
    page = client.get("/alarms").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    data = {"alarm": alarm, "key": key, "operator": "alice", "note": "known EPU problem", "token": token,
            "csrf_token": csrf}  # fmt: skip
    return client.post("/alarms/ack", data=data)


def _row(client) -> str:
    html = client.get("/alarms").text
    return re.search(r'<tr class="alarm-row" data-alarm="failed-attempts" data-key="L1Proc/r0796003600"'
                     r' data-acknowledged="(\w+)">(.*?)</tr>', html, re.S).group(0)  # fmt: skip


def test_acknowledged_alarm_is_shown_and_stops_paging_until_its_severity_changes(client):
    assert 'data-acknowledged="no"' in _row(client) and ">warning<" in _row(client)
    assert f"fermi_isoc_alarm_firing{{{ITEM}}} 1" in client.get("/metrics").text
    # refused without the token or for an alarm that is not a warning or error
    r = _ack(client, token="guess")
    assert r.status_code == 403 and "operator token missing or wrong" in r.text
    r = _ack(client, alarm="watchdog", key="watchdog")
    assert r.status_code == 409 and "not a warning or an error" in r.text
    assert _ack(client, key="nope").status_code == 404

    r = _ack(client)
    assert r.status_code == 200 and "acknowledged at warning by alice" in r.text
    row = _row(client)
    assert (
        'data-acknowledged="yes"' in row and "acknowledged by alice at" in row and "known EPU problem" in row
    )
    metrics = client.get("/metrics").text
    assert f"fermi_isoc_alarm_firing{{{ITEM}}} 0" in metrics
    assert f"fermi_isoc_alarm_acknowledged{{{ITEM}}} 1" in metrics
    assert f"fermi_isoc_alarm_severity{{{ITEM}}} 1" in metrics  # still a warning, only silenced

    # two more failed attempts: an error now; the acknowledgement lapses and the alarm pages again
    client.db.run_attempt("L1Proc/r0796003600", 3, "failed")
    client.db.run_attempt("L1Proc/r0796003600", 4, "failed")
    row = _row(client)
    assert 'data-acknowledged="no"' in row and ">error<" in row
    assert f"fermi_isoc_alarm_firing{{{ITEM}}} 1" in client.get("/metrics").text
    with Session(get_engine(client.db.url)) as s:
        (ack,) = s.scalars(select(AlarmAck)).all()
        assert (ack.acknowledged_by, ack.severity) == ("alice", 1) and ack.lapsed_at is not None


def test_acknowledged_alarms_do_not_raise_the_exit_code(db, tmp_path, capsys):
    populate(db, tmp_path)
    specs = [s for s in load_alarms() if s.name in ("failed-attempts", "watchdog")]
    with Session(get_engine(db.url)) as s:
        ctx = Context(s)
        results = evaluate(specs, ctx)
        assert worst(results) == Severity.WARNING
        from fermi_isoc.alarms.acks import acknowledge

        acknowledge(s, results, "failed-attempts", "L1Proc/r0796003600", "bob", "", ctx.now)
        s.commit()
        again = evaluate(specs, Context(s))
    assert worst(again) == Severity.OK
    assert [r.acknowledged.split(" at ")[0] for r in again if r.alarm == "failed-attempts"] == ["bob"]


def test_second_instance_of_a_job_refuses_to_start_and_success_is_recorded(db, tmp_path, capsys):
    archive = str(tmp_path / "tape")
    with job_run("retention", db.url):
        with pytest.raises(JobBusy, match=r"job retention is already running \(.*:\d+, since"):
            with job_run("retention", db.url):
                pass
        assert main(["retention", "check", "--archive", archive, "--db", db.url]) == 4
        assert "fermi-isoc retention: refused: job retention is already running" in capsys.readouterr().out
    assert main(["retention", "check", "--archive", archive, "--db", db.url]) == 0
    assert main(["alarms", "--db", db.url]) in (0, 1, 2)
    with Session(get_engine(db.url)) as s:
        jobs = {j.name: j for j in job_records(s)}
    assert set(jobs) == {"alarms", "retention"}
    assert all(j.owner == "" and j.last_success is not None for j in jobs.values())
    # a bad alarm file is the job's failure, not a success
    bad = tmp_path / "bad.toml"
    bad.write_text("[[alarm]]\nname = 1\n")
    assert main(["alarms", "--db", db.url, "--config", str(bad)]) == 3
    with Session(get_engine(db.url)) as s:
        alarms_job = s.get(JobRecord, "alarms")
        assert alarms_job.last_failure is not None and alarms_job.last_error == "exit code 3"


def test_a_run_past_its_timeout_does_not_block_the_next(db):
    t0 = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
    with Session(get_engine(db.url)) as s:  # an instance on another host that died 7 hours ago
        s.add(
            JobRecord(name="retention", period_s=86400.0, owner="elsewhere:123", started_at=t0, last_error="")
        )
        s.commit()
    with pytest.raises(JobBusy):
        with job_run("retention", db.url, now=t0 + timedelta(hours=1)):
            pass
    with job_run("retention", db.url, now=t0 + timedelta(hours=7)):
        pass


def _watchdog(db, now):
    specs = [s for s in load_alarms() if s.name == "job-watchdog"]
    with Session(get_engine(db.url)) as s:
        return {r.key: r for r in evaluate(specs, Context(s, now=now))}


def test_watchdog_fires_when_a_job_has_not_succeeded_within_its_period(db):
    assert list(_watchdog(db, datetime.now(timezone.utc))) == [""]  # no job ever ran: nothing to watch
    with job_run("retention", db.url):
        pass
    with pytest.raises(RuntimeError), job_run("report", db.url):
        raise RuntimeError("matplotlib exploded")
    now = datetime.now(timezone.utc)
    results = _watchdog(db, now)
    assert results["retention"].severity == Severity.OK
    assert results["report"].severity == Severity.ERROR  # never succeeded
    assert "last error: RuntimeError: matplotlib exploded" in results["report"].message
    assert _watchdog(db, now + timedelta(hours=30))["retention"].severity == Severity.WARNING
    late = _watchdog(db, now + timedelta(days=2, hours=1))["retention"]
    assert late.severity == Severity.ERROR and late.firing and late.value == pytest.approx(49 / 24, rel=1e-3)
