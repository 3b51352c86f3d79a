"""Leap seconds in planning windows, the table's expiry, and commands across week boundaries."""

import json
from datetime import date

import pytest

from fermi_isoc.planning.commands import (
    Command,
    TimelineError,
    check_week_boundaries,
    read_timeline,
)
from fermi_isoc.planning.leapseconds import leap_seconds_in_window, table_status
from fermi_sciencetools_shim.time import met_to_utc_iso, mission_week_bounds, utc_to_met


def test_the_five_leap_seconds_since_2001_are_found():
    leaps = leap_seconds_in_window(0.0, utc_to_met("2026-01-01T00:00:00"))
    assert [leap.effective_utc for leap in leaps] == [
        "2006-01-01", "2009-01-01", "2012-07-01", "2015-07-01", "2017-01-01",
    ]  # fmt: skip
    # the inserted second prints as 23:59:60 in UTC
    assert met_to_utc_iso(leaps[-1].met_start + 0.5, 1) == "2016-12-31T23:59:60.5"


def test_a_planning_week_holding_a_leap_second_is_flagged():
    start, stop = mission_week_bounds(448)  # 2016-12-29 .. 2017-01-05
    assert [leap.effective_utc for leap in leap_seconds_in_window(start, stop)] == ["2017-01-01"]
    assert leap_seconds_in_window(*mission_week_bounds(449)) == []


def test_leap_second_table_is_not_near_expiry():
    """Fails when astropy-iers-data's leap-second table expires within 30 days: update it."""
    status = table_status()
    assert status.last_leap == "2017-01-01"
    assert status.days_left > 30, f"leap-second table {status.source} expires on {status.expires}"


def test_table_status_counts_days_from_a_given_date():
    status = table_status(today=date(2000, 1, 1))
    assert status.days_left == (status.expires - date(2000, 1, 1)).days


def test_commands_across_and_on_a_week_boundary_are_flagged():
    start, stop = mission_week_bounds(323)
    commands = [
        Command("inside", start + 3600, 60),
        Command("stop-start pair", stop - 10, 20),  # splits across two loads
        Command("at thursday", stop, 0),  # belongs to week 324 only
        Command("near", stop + 7200, 0),
    ]
    findings = check_week_boundaries(commands)
    assert [(f.command.name, f.kind, f.week) for f in findings] == [
        ("stop-start pair", "straddles", 323),
        ("at thursday", "at-boundary", 324),
    ]
    assert "crosses the boundary between weeks 323 and 324" in findings[0].message
    near = check_week_boundaries([Command("x", stop - 30, 5)], margin_s=60)
    assert [f.kind for f in near] == ["near-boundary"]


def test_timeline_files_csv_and_json(tmp_path):
    csv_path = tmp_path / "load.csv"
    csv_path.write_text("name,start,duration_s\nSAA stop,2014-08-13T23:59:50,20\nreboot,429100000,\n")
    commands = read_timeline(csv_path)
    assert [c.name for c in commands] == ["reboot", "SAA stop"]
    assert commands[1].start == pytest.approx(utc_to_met("2014-08-13T23:59:50"))
    assert [f.kind for f in check_week_boundaries(commands)] == ["straddles"]
    json_path = tmp_path / "load.json"
    json_path.write_text(json.dumps([{"name": "a", "start": "2014-08-14T00:00:00"}]))
    assert [f.kind for f in check_week_boundaries(read_timeline(json_path))] == ["at-boundary"]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("t.csv", "name,when\nx,1\n", "CSV header must contain 'name' and 'start'"),
        ("t.csv", "name,start\nx,yesterday\n", "line 2: start 'yesterday' is neither MET"),
        ("t.csv", "name,start,duration_s\nx,1,-5\n", "line 2: duration_s must be finite and >= 0"),
        ("t.json", "{}", "expected a JSON list"),
        ("t.json", "[{", "not valid JSON at line 1"),
        ("t.json", '[{"start": 1}]', "entry 0: missing command name"),
        ("t.txt", "", "unknown timeline format"),
    ],
)
def test_bad_timelines_name_file_entry_and_reason(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(TimelineError, match=message) as exc:
        read_timeline(path)
    assert str(path) in str(exc.value)
