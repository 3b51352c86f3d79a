"""Must show: the real week-323 FT2 ground track enters the SAA polygon exactly in the long gaps."""

import numpy as np
import pytest

from fermi_isoc.planning.ft2check import check_ft2_saa
from fermi_isoc.planning.orbit import parse_tle
from fermi_isoc.planning.week import StaleTle, plan_week

FT2 = "pint/lat_spacecraft_weekly_w323_p202_v001.fits"
# Fermi TLE of 2014-06-10, the closest public one before week 323 (2014-08-07..14)
TLE_2014 = (
    "1 33053U 08029A   14161.76628270  .00001306  00000-0  63609-4 0  5886\n"
    "2 33053 025.5822 296.4061 0013102 145.0912 215.0483 15.08435056330496\n"
)


@pytest.fixture(scope="module")
def report(shared_data):
    return check_ft2_saa(shared_data / FT2)


@pytest.mark.requires_data
def test_no_ft2_row_lies_inside_the_polygon(report):
    assert report.n_rows == 17305
    assert report.rows_inside.size == 0


@pytest.mark.requires_data
def test_every_gap_longer_than_5_minutes_holds_a_polygon_passage(report):
    assert len(report.long_gaps) == 66
    assert report.unmatched_long_gaps == []
    durations = np.array([g.duration for g in report.long_gaps])
    assert 5 * 60 < durations.min() and durations.max() < 32 * 60
    # the data stop shortly before the polygon entry and restart shortly after the exit
    lead = np.array([g.passage.entry - g.gap_start for g in report.long_gaps])
    trail = np.array([g.gap_stop - g.passage.exit for g in report.long_gaps])
    assert lead.min() > 0 and trail.min() > 0
    assert lead.max() < 60 and trail.max() < 60
    assert report.ok


@pytest.mark.requires_data
def test_short_gaps_are_orbit_crossings_or_saa_corner_grazes(report):
    # 13.5 s stop/start at the orbital-plane crossing: never in the polygon, near the equator
    crossings = [g for g in report.short_gaps if g.duration < 20]
    assert len(crossings) == 37
    assert all(g.passage is None for g in crossings)
    grazes = [g for g in report.short_gaps if g.duration >= 20]
    assert len(grazes) == 2 and all(g.passage is not None for g in grazes)


@pytest.mark.requires_data
def test_tle_predictions_agree_with_the_week_of_real_gaps(report):
    """sgp4 from a TLE two months older predicts the count and durations of the week's passages."""
    with pytest.raises(StaleTle, match="57 days before week 323"):
        plan_week(323, parse_tle(TLE_2014), step=30.0)
    plan = plan_week(323, parse_tle(TLE_2014), step=30.0, allow_old_tle=True)
    assert any("57 days from the week (limit 30, overridden)" in w for w in plan.warnings)
    observed = len(report.long_gaps) + sum(g.passage is not None for g in report.short_gaps)
    s = plan.summary()
    assert abs(s["passages"] - observed) <= 3
    assert 9 <= s["per_day"] <= 10.5
    real_inside = sum(g.passage.duration for g in report.long_gaps) / (7 * 86400)
    assert s["fraction_inside"] == pytest.approx(real_inside, abs=0.01)
    assert s["max_duration_s"] < 32 * 60
