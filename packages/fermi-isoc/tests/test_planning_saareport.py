"""Checks of flight-operations SAA reports, on reports made from sgp4 predictions."""

import pytest

from fermi_isoc.cli import main
from fermi_isoc.planning.orbit import parse_tle
from fermi_isoc.planning.passages import predict_saa_passages
from fermi_isoc.planning.saareport import (
    SaaReportError,
    check_report,
    cross_check_with_tle,
    read_saa_report,
    report_date,
    write_fot_report,
)
from fermi_sciencetools_shim.time import met_to_utc_iso, mission_week_bounds, utc_to_met

TLE_2017 = (
    "1 33053U 08029A   17229.56317825 +.00000508 +00000-0 +12437-4 0  9995\n"
    "2 33053 025.5829 306.0377 0012114 272.5539 087.3609 15.10926454506590\n"
)


@pytest.fixture(scope="module")
def passages():
    start = utc_to_met("2017-08-17T00:00:00")
    return predict_saa_passages(parse_tle(TLE_2017), start, start + 86400)


def _write(path, passages, shifts=None, drop=(), extra=()):
    shifts = shifts or {}
    lines = ["start,start_orbit,stop,stop_orbit,duration_s"]
    for i, p in enumerate(passages):
        if i in drop:
            continue
        a, b = p.entry + shifts.get(i, (0, 0))[0], p.exit + shifts.get(i, (0, 0))[1]
        orbit = 1000 + i
        lines.append(f"{met_to_utc_iso(a, 1)},{orbit},{met_to_utc_iso(b, 1)},{orbit},{b - a:.1f}")
    lines += list(extra)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_identical_reports_are_clean_and_agree_with_the_tle(tmp_path, passages):
    old = read_saa_report(_write(tmp_path / "old.csv", passages))
    new = read_saa_report(_write(tmp_path / "new.csv", passages))
    assert len(new) == len(passages) >= 4
    assert [f for f in check_report(new, old) if "shorter" not in f.message] == []
    assert cross_check_with_tle(new, parse_tle(TLE_2017)) == []


def test_shifts_appearing_and_disappearing_transits_are_flagged(tmp_path, passages):
    i, j, k = [n for n, p in enumerate(passages) if p.duration > 600][1:4]  # long transits, not the first
    old = read_saa_report(_write(tmp_path / "old.csv", passages))
    new = read_saa_report(
        _write(tmp_path / "new.csv", passages, shifts={i: (45, 0), j: (0, -130)}, drop=(k,))
    )
    messages = [f.message for f in check_report(new, old)]
    assert f"orbit {1000 + i}: entry moved +45.0 s (more than 30 s)" in messages
    assert f"orbit {1000 + j}: exit moved -130.0 s (more than 120 s)" in messages
    assert any(m.startswith(f"orbit {1000 + k}: transit at") and m.endswith("disappears") for m in messages)
    severity = {f.orbit: f.severity for f in check_report(new, old) if "moved" in f.message}
    assert severity == {1000 + i: "warning", 1000 + j: "error"}
    tle_findings = cross_check_with_tle(new, parse_tle(TLE_2017))
    assert [f.orbit for f in tle_findings] == [1000 + j]


def test_duplicates_short_transits_bad_durations_and_week_boundaries(tmp_path):
    wk_start, _ = mission_week_bounds(479)
    rows = [
        f"{met_to_utc_iso(wk_start - 20, 1)},5,{met_to_utc_iso(wk_start + 900, 1)},5,920",
        f"{met_to_utc_iso(wk_start + 6000, 1)},6,{met_to_utc_iso(wk_start + 6010, 1)},6,10",
        f"{met_to_utc_iso(wk_start + 12000, 1)},6,{met_to_utc_iso(wk_start + 12600, 1)},6,100",
    ]
    report = read_saa_report(_write(tmp_path / "r.csv", [], extra=rows))
    messages = [f.message for f in check_report(report)]
    assert "orbit 6 appears 2 times" in messages
    assert any("orbit 6: transit of 10.0 s is shorter than 30 s" == m for m in messages)
    assert any("orbit 6: duration 100 s but stop − start is 600.0 s" == m for m in messages)
    assert any(
        m.startswith("orbit 5: SAA entry") and "-20.0 s from the mission-week boundary" in m for m in messages
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b\n", "line 1: neither a flight-operations transit"),
        ('365/2014 20:46:21.642,"36134",365/2014 20:56:22.845,"x",10.020\n', "line 1: stop orbit 'x' is not an orbit number"),
        ('366/2014 20:46:21.642,"36134",366/2014 20:56:22.845,"36134",10.020\n',
         "line 1: day of year 366 outside 1..365 in 2014"),
        ('365/2014 20:46:21.642,"36134",2014-12-31T20:56:22,"36134",10.020\n',
         "line 1: time '2014-12-31T20:56:22' is not DOY/YYYY"),
        ("start,start_orbit,stop,stop_orbit,duration_s\n2017-01-01T00:00:00,1,2017-01-01T00:10:00,1\n",
         "line 2: expected 5 fields"),
        ("start,start_orbit,stop,stop_orbit,duration_s\nnoon,1,2017-01-01T00:10:00,1,600\n",
         "line 2: time 'noon' is neither"),
        ("start,start_orbit,stop,stop_orbit,duration_s\n2017:001:00:10:00,1,2017:001:00:00:00,1,600\n",
         "line 2: stop is before start"),
    ],
)  # fmt: skip
def test_bad_reports_name_file_line_and_reason(tmp_path, text, message):
    path = tmp_path / "r.csv"
    path.write_text(text)
    with pytest.raises(SaaReportError, match=message):
        read_saa_report(path)


def test_saa_report_command(tmp_path, passages, capsys):
    old = _write(tmp_path / "old.csv", passages)
    new = _write(tmp_path / "new.csv", passages, shifts={0: (200, 200)})
    assert main(["saa-report", str(new), "--previous", str(old)]) == 2
    assert "ERROR orbit 1000: entry moved +200.0 s" in capsys.readouterr().out
    long_only = _write(tmp_path / "long.csv", [p for p in passages if p.duration > 60])
    assert main(["saa-report", str(long_only), "--previous", str(long_only)]) == 0
    assert "transits in" in capsys.readouterr().out


#: A flight-operations SAA report as delivered (format of shared/design/isoc.md): no header,
#: UTC as DOY/YYYY hh:mm:ss.sss, orbit numbers in quotes, durations in minutes; the report of
#: 2014 day 365 runs over New Year into 2015; orbit 36136 grazes its corner.
FOT_REPORT = """\
365/2014 20:46:21.642,"36134",365/2014 20:56:22.845,"36134",10.020
365/2014 22:19:02.117,"36135",365/2014 22:43:40.998,"36135",24.648
365/2014 23:54:30.500,"36136",365/2014 23:54:51.000,"36136",0.342
001/2015 01:31:12.004,"36137",001/2015 01:58:51.456,"36137",27.658
001/2015 03:07:45.250,"36138",001/2015 03:35:58.750,"36138",28.225
"""


def test_a_real_format_report_is_read(tmp_path, capsys):
    path = tmp_path / "L2014365SAA.00"
    path.write_text(FOT_REPORT)
    transits = read_saa_report(path)
    assert report_date(path).isoformat() == "2014-12-31"
    assert [t.start_orbit for t in transits] == [36134, 36135, 36136, 36137, 36138]
    assert transits[0].start == pytest.approx(utc_to_met("2014-12-31T20:46:21.642"), abs=1e-6)
    assert transits[0].stop == pytest.approx(utc_to_met("2014-12-31T20:56:22.845"), abs=1e-6)
    assert transits[0].duration == pytest.approx(10.020 * 60)  # minutes in the file, seconds here
    assert transits[3].start == pytest.approx(utc_to_met("2015-01-01T01:31:12.004"), abs=1e-6)  # New Year
    messages = [f.message for f in check_report(transits)]
    assert messages == ["orbit 36136: transit of 20.5 s is shorter than 30 s"]
    assert not any("duration" in m for m in messages)  # the minutes agree with stop - start
    # the command reads it, names the report's date, and compares with a previous report
    previous = tmp_path / "L2014364SAA.00"
    previous.write_text(FOT_REPORT.replace("22:19:02.117", "22:18:02.117").replace("24.648", "25.648"))
    assert main(["saa-report", str(path), "--previous", str(previous)]) == 1
    out = capsys.readouterr().out
    assert "5 transits in" in out and "(report of 2014-12-31, from its name)" in out
    assert "WARNING orbit 36135: entry moved +60.0 s (more than 30 s)" in out


def test_the_flight_operations_format_round_trips(tmp_path, passages):
    csv_report = read_saa_report(_write(tmp_path / "r.csv", passages))
    fot = read_saa_report(write_fot_report(csv_report, tmp_path / "L2017229SAA.00"))
    assert [t.start_orbit for t in fot] == [t.start_orbit for t in csv_report]
    assert [t.start for t in fot] == pytest.approx([t.start for t in csv_report], abs=1e-3)
    assert [t.duration for t in fot] == pytest.approx([t.stop - t.start for t in csv_report], abs=0.06)
