"""``fermi-isoc alarms ack``: acknowledging an alarm from the command line needs the operator token."""

from __future__ import annotations

import getpass
import io

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from fermi_core.db import get_engine
from fermi_isoc.cli import main
from fermi_isoc.models import AlarmAck, JobRecord

from ._pageworld import TOKEN, populate

ITEM = "failed-attempts/L1Proc/r0796003600"
LABELS = 'alarm="failed-attempts",quantity="failed_attempts",key="L1Proc/r0796003600"'


def _acks(db) -> list[tuple]:
    with Session(get_engine(db.url)) as s:
        rows = s.scalars(select(AlarmAck).order_by(AlarmAck.id)).all()
        return [(a.alarm, a.key, a.severity, a.acknowledged_by, a.note, a.lapsed_at is None) for a in rows]


def _no_prompt(prompt: str = "") -> str:
    raise AssertionError("the token was asked for")


@pytest.fixture
def world(db, tmp_path, monkeypatch):
    populate(db, tmp_path)
    monkeypatch.setenv("FERMI_ISOC_OPERATOR_TOKEN", TOKEN)
    good, bad = tmp_path / "token", tmp_path / "wrong"
    good.write_text(TOKEN + "\n")
    bad.write_text("guess\n")
    return db, good, bad


def test_refused_without_the_right_token_or_a_firing_item(world, monkeypatch, capsys):
    db, good, bad = world
    ack = ["alarms", "ack", ITEM, "--who", "alice", "--note", "known EPU problem"]
    assert main([*ack, "--token-file", str(bad)]) == 1
    assert "refused: operator token missing or wrong" in capsys.readouterr().out
    assert main([*ack, "--token-file", str(good.parent / "absent")]) == 1
    assert (
        "--token-file " + str(good.parent / "absent") + ": cannot read it: No such file"
        in capsys.readouterr().out
    )
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": "guess")
    assert main(ack) == 1
    assert "operator token missing or wrong" in capsys.readouterr().out
    # no token configured: refused without asking for one, as the page is read-only then
    monkeypatch.delenv("FERMI_ISOC_OPERATOR_TOKEN")
    monkeypatch.setattr(getpass, "getpass", _no_prompt)
    assert main(ack) == 1
    assert "write actions are disabled: no operator token is configured" in capsys.readouterr().out
    monkeypatch.setenv("FERMI_ISOC_OPERATOR_TOKEN", TOKEN)
    # with the token, but nothing to acknowledge
    assert (
        main(["alarms", "ack", "failed-attempts/L1Proc/nope", "--who", "a", "--token-file", str(good)]) == 1
    )
    assert "no alarm item 'failed-attempts/L1Proc/nope'" in capsys.readouterr().out
    assert main(["alarms", "ack", "watchdog", "--who", "a", "--token-file", str(good)]) == 1
    assert "alarm watchdog has no warning or error item: nothing to acknowledge" in capsys.readouterr().out
    assert _acks(db) == []


def test_acknowledged_from_the_command_line_stops_paging(world, monkeypatch, capsys):
    db, _, _ = world
    assert main(["alarms", "--prometheus"]) in (1, 2)
    assert f"fermi_isoc_alarm_firing{{{LABELS}}} 1" in capsys.readouterr().out
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": TOKEN)  # typed at the prompt
    assert main(["alarms", "ack", ITEM, "--who", "alice", "--note", "known EPU problem"]) == 0
    out = capsys.readouterr().out
    assert (
        "alarm failed-attempts (L1Proc/r0796003600) acknowledged at warning by alice: known EPU problem; "
        "it stops paging until its severity changes" in out
    )
    assert _acks(db) == [("failed-attempts", "L1Proc/r0796003600", 1, "alice", "known EPU problem", True)]
    with Session(get_engine(db.url)) as s:  # an acknowledgement is not a run of the alarms job
        assert [j.name for j in s.scalars(select(JobRecord))] == ["alarms"]
        assert s.get(JobRecord, "alarms").last_success is not None
    assert main(["alarms", "--prometheus"]) in (0, 1, 2)
    metrics = capsys.readouterr().out
    assert f"fermi_isoc_alarm_firing{{{LABELS}}} 0" in metrics
    assert f"fermi_isoc_alarm_acknowledged{{{LABELS}}} 1" in metrics

    # the alarm name alone names its single firing item; the token may come on standard input
    monkeypatch.setattr("sys.stdin", io.StringIO(TOKEN + "\n"))
    assert main(["alarms", "ack", "failed-attempts", "--who", "bob", "--token-file", "-"]) == 0
    assert "acknowledged at warning by bob; it stops" in capsys.readouterr().out
    assert [(who, active) for *_, who, _note, active in _acks(db)] == [("alice", False), ("bob", True)]
