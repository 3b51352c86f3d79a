"""Mission facts: APID table, SAA polygon, TLE propagation and pointing interpolation."""

from __future__ import annotations

import numpy as np
import pytest

from fermi_core.errors import BadInput
from fermi_core.mission import packets, pointing
from fermi_core.mission.orbit import (
    TLE_2017_08_17,
    TLE_2026_06_26,
    Orbit,
    TleError,
    ascending_nodes,
    osculating_inclination_deg,
    parse_tle,
    tle_from_lines,
)
from fermi_core.mission.saa import LAT_SAA_2008198, SaaPolygon, points_in_polygon, polygon_for


def test_apid_table_and_packet_constants():
    assert (packets.APID_SIU, packets.APID_EPU0, packets.APID_EPU1, packets.APID_SPACECRAFT) == (
        955,
        956,
        957,
        1020,
    )
    assert packets.DEFAULT_EVENT_APIDS == (956, 957)
    assert set(packets.DEFAULT_EVENT_APIDS) < set(packets.DEFAULT_APIDS)
    assert packets.DEFAULT_EPU_APIDS == {956: 0, 957: 1}
    assert packets.MAX_PAYLOAD == packets.MAX_PACKET_LENGTH - packets.HEADER_LENGTH == 4082
    assert packets.SEQ_MODULUS == 16384


def test_ingest_and_halfpipe_read_the_one_apid_table():
    ingest = pytest.importorskip("fermi_ingest.ccsds.constants")
    halfpipe = pytest.importorskip("fermi_halfpipe.format")
    assert ingest.DEFAULT_APIDS is packets.DEFAULT_APIDS
    assert ingest.APID_SPACECRAFT == halfpipe.SPACECRAFT_APID == packets.APID_SPACECRAFT
    assert halfpipe.DEFAULT_EPU_APIDS is packets.DEFAULT_EPU_APIDS


def test_saa_polygon_is_the_fssc_one_and_contains_the_anomaly():
    assert LAT_SAA_2008198.name == "L_SAA_2008198.03"
    assert all(lat > 0 for lat in LAT_SAA_2008198.lat_deg[2:7])  # a public copy flips these
    lat = np.array([-15.0, -22.9, -33.9, 51.5, -10.0, 3.0])
    lon = np.array([-50.0, -43.2, 18.4, 0.0, -150.0, 330.0])  # 330 E is 30 W
    assert LAT_SAA_2008198.contains(lat, lon).tolist() == [True, True, False, False, False, True]
    assert polygon_for("2020-01-01") is LAT_SAA_2008198


def test_point_in_polygon_with_horizontal_edges():
    square = (np.array([0, 0, 1, 1.0]), np.array([0, 1, 1, 0.0]))
    assert points_in_polygon([0.5, 1.5, 0.5], [0.5, 0.5, -0.1], *square).tolist() == [True, False, False]
    with pytest.raises(ValueError, match="bad: 3 latitudes but 2 longitudes"):
        SaaPolygon("bad", "2020-01-01", "test", (0.0, 1.0, 2.0), (0.0, 1.0))


def test_tle_errors_are_bad_input_naming_the_source():
    with pytest.raises(TleError, match=r"x\.tle: line 2 checksum") as info:
        tle_from_lines((TLE_2017_08_17[0], TLE_2017_08_17[1][:-1] + "1"), source="x.tle")
    assert isinstance(info.value, BadInput) and isinstance(info.value, ValueError)
    with pytest.raises(TleError, match="expected 2 TLE lines"):
        parse_tle(TLE_2017_08_17[0], source="y")


def test_orbit_in_si_units_from_the_tle():
    orbit = Orbit(tle_from_lines(TLE_2017_08_17, source="test"))
    met = orbit.epoch_met + np.arange(0.0, 6 * 3600.0, 10.0)
    states = orbit.states(met)
    radius = np.linalg.norm(states.position, axis=1)
    assert 6.85e6 < radius.min() and radius.max() < 6.95e6  # m
    assert np.linalg.norm(states.velocity, axis=1).mean() == pytest.approx(7.6e3, rel=0.01)  # m/s
    assert np.abs(osculating_inclination_deg(states) - 25.6).max() < 0.2
    period = np.diff(ascending_nodes(states)).mean()
    assert period == pytest.approx(orbit.mean_motion_period_s, rel=0.01)
    track = orbit.ground_track(met[::30])
    assert 520e3 < track.height_m.min() and track.height_m.max() < 560e3
    assert np.abs(track.lat_deg).max() == pytest.approx(25.6, abs=0.3)
    exact = orbit.states_exact(met[:3])
    assert np.abs(exact.position - states.position[:3]).max() < 1.0
    # the newer elements: lower orbit, shorter period
    assert tle_from_lines(TLE_2026_06_26, source="new").period_s < orbit.tle.period_s


@pytest.mark.filterwarnings("ignore::erfa.ErfaWarning")
def test_sgp4_failure_is_a_tle_error_with_the_time():
    orbit = Orbit(tle_from_lines(TLE_2017_08_17, source="old"))
    with pytest.raises(TleError, match=r"old: sgp4 failed at MET .* days from the TLE epoch"):
        orbit.states(orbit.epoch_met + np.array([0.0, 400 * 365.25 * 86400]))


def _axis_angle(axis, angle):
    axis = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    return np.concatenate([axis * np.sin(angle / 2), [np.cos(angle / 2)]])


def test_slerp_is_uniform_in_angle_and_nlerp_close_to_it():
    t = np.array([0.0, 1.0])
    q = np.stack([_axis_angle([0, 0, 1], 0.0), _axis_angle([0, 0, 1], 0.4)])
    mid = pointing.slerp(t, q, np.array([0.25, 0.5]))
    np.testing.assert_allclose(mid, [_axis_angle([0, 0, 1], 0.1), _axis_angle([0, 0, 1], 0.2)], atol=1e-15)
    q_n, p_n = pointing.nlerp(np.array([0.5]), t, q, np.array([[0.0, 0, 0], [2.0, 0, 0]]))
    np.testing.assert_allclose(q_n[0], mid[1], atol=1e-12)
    np.testing.assert_allclose(p_n, [[1.0, 0, 0]])
    with pytest.raises(ValueError, match="strictly increasing"):
        pointing.nlerp(np.array([0.5]), np.array([1.0, 1.0]), q, np.zeros((2, 3)))


def test_hermite_and_arc_follow_a_circle():
    w, r = 1.1e-3, 6.9e6
    ts = np.array([0.0, 30.0])
    pos = r * np.stack([np.cos(w * ts), np.sin(w * ts), np.zeros(2)], axis=1)
    vel = r * w * np.stack([-np.sin(w * ts), np.cos(w * ts), np.zeros(2)], axis=1)
    t = np.array([7.5, 15.0, 22.5])
    truth = r * np.stack([np.cos(w * t), np.sin(w * t), np.zeros(3)], axis=1)
    assert np.abs(pointing.arc(ts, pos, t) - truth).max() < 1e-6
    assert np.abs(pointing.hermite(ts, pos, vel, t) - truth).max() < 0.05  # m, 30 s apart
    chord = pointing.hermite(ts, pos, None, t)
    assert np.linalg.norm(chord[1]) < r - 500  # a straight line cuts inside the orbit
