"""Checks of flight-operations SAA reports, on reports made from sgp4 predictions."""

import pytest

from fermi_isoc.cli import main
from fermi_isoc.planning.orbit import parse_tle
from fermi_isoc.planning.passages import predict_saa_passages
from fermi_isoc.planning.saareport import SaaReportError, check_report, cross_check_with_tle, read_saa_report
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
        ("a,b\n", "line 1: header must be start,start_orbit,stop,stop_orbit,duration_s"),
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
