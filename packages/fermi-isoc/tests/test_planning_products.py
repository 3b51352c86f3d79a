"""``fermi-isoc plan --week N --out DIR``: the week's planning products, the TLE age rule, polygon versions."""

import csv
import json

import pytest

from fermi_core.mission.orbit import TLE_2017_08_17
from fermi_core.mission.saa import LAT_SAA_2008198, SaaPolygonError, load_polygons, polygon_for
from fermi_isoc.cli import main
from fermi_isoc.planning.commands import read_timeline
from fermi_isoc.planning.orbit import tle_from_lines
from fermi_isoc.planning.saareport import read_saa_report
from fermi_isoc.planning.week import StaleTle, plan_week
from fermi_sciencetools_shim.time import mission_week, mission_week_bounds

WEEK = 481  # 2017-08-17 .. 08-24: holds the TLE epoch


@pytest.fixture
def tle_file(tmp_path):
    path = tmp_path / "fermi.tle"
    path.write_text("\n".join(TLE_2017_08_17) + "\n")
    return path


def test_plan_writes_the_weeks_products(tmp_path, tle_file, capsys):
    out = tmp_path / "plan"
    assert main(["plan", "--week", str(WEEK), "--tle", str(tle_file), "--out", str(out)]) == 0
    folder = out / f"w{WEEK}"
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted([
        "L2017229SAA_predicted_w481.txt", "saa_passages_w481.csv", "week_w481.json",
        "leap_seconds_w481.csv", "commands_w481.csv", "boundary_w481.csv",
    ])  # fmt: skip
    week = json.loads((folder / "week_w481.json").read_text())
    start, stop = mission_week_bounds(WEEK)
    assert (week["utc_start"], week["utc_stop_exclusive"]) == ("2017-08-17T00:00:00", "2017-08-24T00:00:00")
    assert (week["met_start"], week["met_stop_exclusive"]) == (start, stop)
    assert week["saa_polygon"]["name"] == "L_SAA_2008198.03" and week["tle"]["days_from_week"] == 0.0
    assert sorted(week["files"]) == sorted(n for n in names if n != "week_w481.json")
    # the predicted passages in flight operations' format: saa-report reads them back
    transits = read_saa_report(folder / "L2017229SAA_predicted_w481.txt")
    assert len(transits) == week["passages"]["passages"] >= 60
    assert all(start <= t.start < stop for t in transits)
    orbits = [t.start_orbit for t in transits]
    assert orbits == sorted(orbits) and len(set(orbits)) == len(orbits)
    assert 50600 < orbits[0] < 50700  # the TLE's revolution 50659 at 2017-08-17 13:31
    # the orbit commands: every SAA passage gives 3, orbits missing the SAA a stop/start pair
    commands = read_timeline(folder / "commands_w481.csv")
    assert all(mission_week(c.start) == WEEK for c in commands)
    entry = [c for c in commands if c.name.startswith("SAA entry")]
    crossings = [c for c in commands if c.name.startswith("plane crossing")]
    assert len(entry) == len(transits) and 30 <= len(crossings) <= 45  # week 323: 39 such 13.5 s gaps
    assert all(c.duration == 10 for c in crossings)
    with open(folder / "leap_seconds_w481.csv") as f:
        assert list(csv.reader(f)) == [["effective_utc", "inserted_second_utc", "met_start", "tai_utc_after"]]
    assert "wrote saa_fot:" in capsys.readouterr().out
    # planning again gives the same bytes
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert main(["plan", "--week", str(WEEK), "--tle", str(tle_file), "--out", str(out)]) == 0
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_commands_across_the_boundary_and_a_leap_second_week(tmp_path, tle_file, capsys):
    # week 448  # 2016-12-29 .. 2017-01-05: the leap second of 2016-12-31
    timeline = tmp_path / "load.csv"
    timeline.write_text(
        "name,start,duration_s\nLAT config,2017-01-04T23:59:55,20\nreboot,2017-01-05T00:00:00,0\n"
    )
    args = [
        "plan",
        "--week",
        "448",
        "--tle",
        str(tle_file),
        "--out",
        str(tmp_path / "p"),
        "--commands",
        str(timeline),
    ]
    assert main(args) == 2  # the 2017-08-17 TLE is 225 days after the week
    assert "is 225 days after week 448" in capsys.readouterr().out and not (tmp_path / "p").exists()
    assert main([*args, "--allow-old-tle"]) == 1
    out = capsys.readouterr().out
    assert "WARNING: TLE epoch 2017-08-17T13:30:59 is 225 days from the week (limit 30, overridden)" in out
    assert "COMMAND: LAT config from 2017-01-04T23:59:55.000 to 2017-01-05T00:00:15.000 crosses" in out
    folder = tmp_path / "p" / "w448"
    with open(folder / "boundary_w448.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["source"], r["name"], r["kind"], r["week"]) for r in rows if r["source"] == "timeline"] == [
        ("timeline", "LAT config", "straddles", "448"),
        ("timeline", "reboot", "at-boundary", "449"),  # exactly Thursday 00:00: the next week's load only
    ]
    with open(folder / "leap_seconds_w448.csv") as f:
        leap = list(csv.DictReader(f))
    assert [(r["effective_utc"], r["inserted_second_utc"]) for r in leap] == [
        ("2017-01-01", "2016-12-31T23:59:60")
    ]
    assert json.loads((folder / "week_w448.json").read_text())["leap_seconds"] == ["2017-01-01"]


def test_a_tle_too_far_from_the_week_is_an_error_unless_allowed():
    tle = tle_from_lines(TLE_2017_08_17, "test TLE")
    with pytest.raises(StaleTle, match=r"test TLE: TLE epoch 2017-08-17T13:30:59 is \d+ days after week 470"):
        plan_week(470, tle)
    assert plan_week(470, tle, max_tle_age_days=80).warnings == []
    assert any("overridden" in w for w in plan_week(470, tle, allow_old_tle=True).warnings)


def test_polygon_versions_are_data_files_selected_by_date(tmp_path, tle_file, capsys):
    assert polygon_for("2014-08-07") is LAT_SAA_2008198
    newer = tmp_path / "polygons"
    newer.mkdir()
    (newer / "L_SAA_2017100.01.toml").write_text(
        'name = "L_SAA_2017100.01"\nvalid_from = "2017-04-10"\nsource = "test: the 2008 polygon moved 0.2 deg"\n'
        "lat_deg = [-30.2, -22.8, 2.3, 5.0, 5.0, 4.4, 0.5, -8.8, -10.1, -12.7, -21.9, -30.2]\n"
        "lon_deg = [33.9, 24.5, -18.6, -25.7, -36.0, -42.0, -58.8, -93.1, -97.5, -98.5, -92.1, -86.1]\n"
    )
    versions = load_polygons(newer)
    assert [p.name for p in versions] == ["L_SAA_2008198.03", "L_SAA_2017100.01"]
    assert polygon_for("2017-04-09", versions).name == "L_SAA_2008198.03"
    assert polygon_for("2017-04-10", versions).name == "L_SAA_2017100.01"
    out = tmp_path / "p"
    args = [
        "plan",
        "--week",
        str(WEEK),
        "--tle",
        str(tle_file),
        "--out",
        str(out),
        "--saa-polygons",
        str(newer),
    ]
    assert main(args) == 0
    assert (
        json.loads((out / "w481" / "week_w481.json").read_text())["saa_polygon"]["name"] == "L_SAA_2017100.01"
    )
    (newer / "broken.toml").write_text('name = "broken"\nvalid_from = "2018-01-01"\n')
    with pytest.raises(SaaPolygonError, match=r"broken.toml: SAA polygon lacks source, lat_deg, lon_deg"):
        load_polygons(newer)
    capsys.readouterr()
    assert main(args) == 2
    assert "broken.toml: SAA polygon lacks" in capsys.readouterr().out
