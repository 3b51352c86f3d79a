"""Fermi MET conversions against dates printed in real files and known leap seconds."""

import numpy as np
import pytest

from fermi_sciencetools_shim import time as ftime


@pytest.mark.parametrize(
    ("met", "expected"),
    [
        (239557417.0, "2008-08-04T15:43:36.0000"),  # TSTART of real P8 files
        (752112005.0, "2024-11-01T00:00:00.0000"),  # TSTOP of the gammapy FT1
        (0.0, "2001-01-01T00:00:00.0000"),
    ],
)
def test_date_obs_matches_sciencetools(met, expected):
    assert ftime.date_obs(met) == expected


def test_date_obs_truncates_fraction():
    assert ftime.date_obs(239557417.99999) == "2008-08-04T15:43:36.9999"


def test_leap_seconds_are_applied_by_astropy():
    # MET counts SI seconds: a day containing a leap second (2016-12-31) is 86401 s long.
    start = ftime.utc_to_met("2016-12-31T00:00:00")
    stop = ftime.utc_to_met("2017-01-01T00:00:00")
    assert stop - start == pytest.approx(86401.0, abs=1e-6)
    # Five leap seconds since 2001: MET of 2017-01-01 exceeds the calendar count by 5 s.
    calendar = (np.datetime64("2017-01-01") - np.datetime64("2001-01-01")) / np.timedelta64(1, "s")
    assert stop - calendar == pytest.approx(5.0, abs=1e-6)


def test_met_round_trip_and_mjd():
    met = np.array([0.0, 239557417.5, 700000000.25])
    back = ftime.time_to_met(ftime.met_to_time(met))
    np.testing.assert_allclose(back, met, atol=1e-6)
    assert ftime.met_to_mjd(0.0, scale="utc") == pytest.approx(51910.0, abs=1e-9)


@pytest.mark.parametrize(
    ("met", "week"), [(239557417.0, 9), (429066902.639, 323), (429667202.5, 323), (429667203.0, 324)]
)
def test_mission_weeks(met, week):
    assert ftime.mission_week(met) == week


def test_mission_week_bounds_start_on_thursday():
    start, stop = ftime.mission_week_bounds(323)
    assert ftime.met_to_utc_iso(start, precision=0) == "2014-08-07T00:00:00"
    assert stop - start == 7 * 86400
