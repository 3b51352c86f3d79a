"""Alarms for on-call: held / overdue / rejected halfpipe runs, runbook links, a database outage,
and no request holding two pooled connections (the pool deadlock)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert
from sqlalchemy.orm import Session

from fermi_core.db import get_engine
from fermi_core.site import run_folder
from fermi_halfpipe import models as HM
from fermi_isoc import queries
from fermi_isoc.alarms import AlarmConfigError, Context, Severity, evaluate, load_alarms, parse_alarms
from fermi_isoc.alarms.config import runbook_path
from fermi_isoc.cli import main
from fermi_isoc.queries import tables

from .conftest import NOW

REPO = Path(__file__).resolve().parents[3]
RUNBOOK_DIR = REPO / "docs" / "operations"

#: interface F of the shared brief: alarm -> runbook page
EXPECTED_PAGES = {
    "watchdog": "watchdog", "job-watchdog": "watchdog", "dead-mans-switch": "watchdog",
    "gap-not-filled": "gap-not-filled", "run-held-back": "held-run", "run-overdue": "overdue-run",
    "run-rejected": "rejected-run", "failed-attempts": "failed-step", "trigger-rate": "instrument-rates",
    "livetime-fraction": "instrument-rates", "disk-usage": "disk-usage",
    "run-quality": "data-quality", "config-key-mismatch": "config-key-mismatch",
}  # fmt: skip


def _halfpipe_run(url: str, run_id: int, status: str, *, last_h: float, deadline_h: float, **kw) -> None:
    """A halfpipe run whose last data came ``last_h`` hours before NOW, due ``deadline_h`` after NOW."""
    get_engine(url)
    with Session(get_engine(url)) as s, s.begin():
        s.execute(
            insert(HM.HalfpipeRun),
            [
                dict(
                    run_id=run_id, status=status, reason=kw.get("reason", ""), n_delivered=kw.get("events", 1000),
                    n_held=kw.get("held", 0), last_data_utc=NOW - timedelta(hours=last_h),
                    deadline_utc=NOW + timedelta(hours=deadline_h), deadline_deliveries=3, last_data_delivery=0,
                )
            ],
        )  # fmt: skip


def _evaluate(url: str, names: set[str] | None = None):
    specs = [s for s in load_alarms() if names is None or s.name in names]
    with Session(get_engine(url)) as session:
        return evaluate(specs, Context(session, now=NOW))


def test_held_overdue_and_rejected_runs_fire_their_alarms(db):
    _halfpipe_run(
        db.url, 700000000, HM.OPEN, last_h=1, deadline_h=11, held=32960, events=40000
    )  # held, fresh
    _halfpipe_run(db.url, 700010000, HM.OPEN, last_h=8, deadline_h=4, held=500)  # held for long
    _halfpipe_run(db.url, 700020000, HM.OPEN, last_h=15, deadline_h=-3)  # overdue 3 h
    _halfpipe_run(db.url, 700030000, HM.OPEN, last_h=30, deadline_h=-18)  # overdue 18 h
    _halfpipe_run(db.url, 700040000, HM.REJECTED, last_h=14, deadline_h=-2, reason="EPU rule: 3 EPUs")
    _halfpipe_run(db.url, 700050000, HM.REJECTED, last_h=40, deadline_h=-28, reason="EPU rule: 1 EPU")
    _halfpipe_run(db.url, 700060000, HM.COMPLETE, last_h=40, deadline_h=-28)
    _halfpipe_run(db.url, 700070000, HM.ACCEPTED, last_h=40, deadline_h=-28, reason="EPU rule: 1 EPU")
    got = {
        (r.alarm, r.key): r.severity
        for r in _evaluate(db.url, {"run-held-back", "run-overdue", "run-rejected"})
    }
    assert got == {
        ("run-held-back", run_folder(700000000)): Severity.OK,
        ("run-held-back", run_folder(700010000)): Severity.WARNING,
        ("run-overdue", run_folder(700020000)): Severity.WARNING,
        ("run-overdue", run_folder(700030000)): Severity.ERROR,
        ("run-rejected", run_folder(700040000)): Severity.WARNING,
        ("run-rejected", run_folder(700050000)): Severity.ERROR,
    }
    held = next(r for r in _evaluate(db.url, {"run-held-back"}) if r.key == run_folder(700000000))
    assert "32960 of 40000 events held back" in held.message
    rejected = next(r for r in _evaluate(db.url, {"run-rejected"}) if r.key == run_folder(700050000))
    assert "EPU rule: 1 EPU" in rejected.message
    with Session(get_engine(db.url)) as s:
        counts = queries.halfpipe_state_counts(s, now=NOW)
    assert counts["held"] == 2 and counts["overdue"] == 2 and counts["rejected"] == 2
    assert counts["complete"] == 1 and counts["accepted"] == 1


def test_no_halfpipe_run_means_no_value_and_ok(db):
    results = _evaluate(db.url, {"run-held-back", "run-overdue", "run-rejected"})
    assert {r.alarm: r.severity for r in results} == {
        "run-held-back": Severity.OK, "run-overdue": Severity.OK, "run-rejected": Severity.OK,
    }  # fmt: skip


def test_every_default_alarm_links_to_its_runbook_page():
    specs = load_alarms()
    assert {s.name: s.runbook for s in specs} == EXPECTED_PAGES
    if not RUNBOOK_DIR.parent.is_dir():  # the repository's docs/ (an installed package has none)
        pytest.skip(f"{RUNBOOK_DIR.parent} is absent: not run from a checkout")
    missing = [
        f"{s.name} -> {runbook_path(s.runbook)}"
        for s in specs
        if not (REPO / runbook_path(s.runbook)).is_file()
    ]
    assert missing == []


def test_runbook_key_is_validated():
    base = '[[alarm]]\nname = "w"\nquantity = "watchdog"\nalgorithm = "always"\n'
    (spec,) = parse_alarms(base + 'runbook = "held-run"\n')
    assert spec.runbook == "held-run" and runbook_path(spec.runbook) == "docs/operations/held-run.md"
    with pytest.raises(
        AlarmConfigError, match=r"#1 \(w\): key 'runbook': '../etc/passwd' is not a page name"
    ):
        parse_alarms(base + 'runbook = "../etc/passwd"\n', source="test.toml")


def test_runbook_shown_by_the_alarms_command(db, capsys):
    db.delivery("d1", age_h=0.5)
    main(["alarms", "--all", "--json"])
    rows = json.loads(capsys.readouterr().out)
    by_alarm = {r["alarm"]: r["runbook"] for r in rows}
    assert by_alarm == {a: f"docs/operations/{p}.md" for a, p in EXPECTED_PAGES.items()}
    main(["alarms", "--all"])
    out = capsys.readouterr().out
    assert "runbook" in out and "docs/operations/watchdog.md" in out


UNREACHABLE = "postgresql+psycopg://u:pw@127.0.0.1:1/x"


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["alarms"], int(Severity.ERROR)),  # the "critical" code: nothing else can be watched
        (["alarms", "--json"], int(Severity.ERROR)),
        (["rerun", "l1run/r0700000000", "--reason", "test"], 2),
    ],
)
def test_database_outage_is_one_line_and_alarms_is_critical(argv, code, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("FERMI_DB_URL", UNREACHABLE)
    monkeypatch.setenv("FERMI_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FERMI_DB_CONNECT_TIMEOUT", "2")
    assert main(argv) == code
    captured = capsys.readouterr()
    lines = [ln for ln in captured.err.splitlines() if ln.strip()]
    assert len(lines) == 1, captured.err
    assert re.match(
        rf"fermi-isoc {argv[0]}: database postgresql\+psycopg://u:\*\*\*@127\.0\.0\.1:1/x unreachable: ",
        lines[0],
    )
    assert "pw" not in lines[0].replace("psycopg", "")
    assert "Traceback" not in captured.out + captured.err


def test_a_request_never_holds_two_pooled_connections(db_url):
    """With a pool of ONE connection, the page's and the alarms' queries complete (no second checkout)."""
    get_engine(db_url)  # every table
    tables._SEEN.clear()  # nothing remembered: every table check goes to the catalog
    engine = create_engine(db_url, pool_size=1, max_overflow=0, pool_timeout=2)
    try:
        with Session(engine) as s:
            assert queries.pipeline_available(s)
            assert queries.state_counts(s)["failed"] == 0
            assert queries.products_of(s, 700000000) == []
            assert queries.halfpipe_state_counts(s)["held"] == 0
            assert queries.runs_page(s).total == 0
            results = evaluate(load_alarms(), Context(s, now=NOW))
            assert {r.alarm for r in results} == set(EXPECTED_PAGES)
            assert engine.pool.checkedout() == 1
    finally:
        engine.dispose()
