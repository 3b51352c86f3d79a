"""TLE validation and SAA passage predictions from sgp4."""

import numpy as np
import pytest

from fermi_core.mission.saa import LAT_SAA_2008198
from fermi_isoc.planning.orbit import TleError, default_tle, ground_track, parse_tle, read_tle
from fermi_isoc.planning.passages import intervals_from_mask, passages_per_day, predict_saa_passages
from fermi_sciencetools_shim.time import utc_to_met

# Fermi TLE of 2017-08-17 (the day of GW170817); public elements
TLE_2017 = (
    "1 33053U 08029A   17229.56317825 +.00000508 +00000-0 +12437-4 0  9995\n"
    "2 33053 025.5829 306.0377 0012114 272.5539 087.3609 15.10926454506590\n"
)


def test_orbit_figures_come_from_the_tle():
    tle = parse_tle(TLE_2017)
    assert tle.norad_id == 33053
    assert tle.inclination_deg == pytest.approx(25.58, abs=0.01)
    assert tle.period_s / 60 == pytest.approx(95.3, abs=0.1)
    # the built-in TLE is newer: lower orbit, shorter period
    assert default_tle().period_s < tle.period_s


def test_ground_track_stays_within_the_inclination_and_at_fermi_altitude():
    tle = parse_tle(TLE_2017)
    met = utc_to_met("2017-08-17T00:00:00") + np.arange(0, 6000, 60.0)
    track = ground_track(tle, met)
    assert np.abs(track.lat_deg).max() == pytest.approx(25.6, abs=0.3)
    assert 500e3 < track.height_m.min() and track.height_m.max() < 560e3


def test_one_day_of_2017_predictions_matches_the_known_figures():
    """One day in 2017: about 14.7 % of the time in the SAA, 10 passages of 0.7-29 min."""
    tle = parse_tle(TLE_2017)
    start = utc_to_met("2017-08-17T00:00:00")
    passages = predict_saa_passages(tle, start, start + 86400)
    s = passages_per_day(passages, start, start + 86400)
    assert s["passages"] == 10
    assert s["fraction_inside"] == pytest.approx(0.147, abs=0.005)
    assert 0.5 * 60 < s["min_duration_s"] < 1.0 * 60
    assert 28 * 60 < s["max_duration_s"] < 30 * 60


def test_passage_edges_are_refined_to_the_tolerance():
    tle = parse_tle(TLE_2017)
    start = utc_to_met("2017-08-17T00:00:00")
    passages = predict_saa_passages(tle, start, start + 20000, step=30.0, tolerance=0.1)
    assert passages
    edges = np.array([[p.entry - 0.5, p.entry + 0.5, p.exit - 0.5, p.exit + 0.5] for p in passages]).ravel()
    track = ground_track(tle, edges)
    inside = LAT_SAA_2008198.contains(track.lat_deg, track.lon_deg).reshape(-1, 4)
    assert inside.tolist() == [[False, True, True, False]] * len(passages)


def test_window_starting_inside_is_marked():
    tle = parse_tle(TLE_2017)
    start = utc_to_met("2017-08-17T00:00:00")
    first = predict_saa_passages(tle, start, start + 86400)[1]
    cut = predict_saa_passages(tle, first.entry + 60, first.exit + 600)
    assert cut[0].starts_inside and cut[0].entry == first.entry + 60
    assert cut[0].exit == pytest.approx(first.exit, abs=0.2)


def test_intervals_from_mask():
    mask = np.array([1, 1, 0, 0, 1, 0, 1], dtype=bool)
    assert intervals_from_mask(np.arange(7.0), mask) == [(0, 1), (4, 4), (6, 6)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1 33053U\n2 33053", "line 1 has 8 characters"),
        (TLE_2017.replace("9995", "9994"), "line 1 checksum is '4', the line sums to 5"),
        (TLE_2017.split("\n")[0], "expected 2 TLE lines"),
        (TLE_2017.replace("2 33053 025", "2 33054 025").replace("06590", "06591"), "catalog numbers differ"),
    ],
)
def test_bad_tle_is_refused_with_source_and_reason(text, message):
    with pytest.raises(TleError, match=f"my.tle: .*{message}"):
        parse_tle(text, source="my.tle")


def test_read_tle_with_a_name_line(tmp_path):
    path = tmp_path / "fermi.tle"
    path.write_text("0 FERMI (GLAST)\n" + TLE_2017)
    tle = read_tle(path)
    assert tle.name == "FERMI (GLAST)" and tle.source == str(path)
    with pytest.raises(TleError, match="cannot read TLE file"):
        read_tle(tmp_path / "missing.tle")
