"""Orbit, SAA, survey attitude and the APID 1020 records against Fermi's known figures."""

import numpy as np
import pytest

from fermi_core.mission.orbit import TleError, ascending_nodes, osculating_inclination_deg, tle_from_lines
from fermi_core.mission.saa import LAT_SAA_2008198
from fermi_ingest.ccsds import decode_buffer, encode_packets
from fermi_latsim import spacecraft
from fermi_latsim.attitude import matrix_to_quaternion, quaternion_to_matrix, rock_profile
from fermi_latsim.orbit import DEFAULT_TLE, default_orbit
from fermi_latsim.saa import passages


@pytest.fixture(scope="module")
def orbit():
    return default_orbit()


@pytest.fixture(scope="module")
def day(orbit):
    """One day from the TLE epoch at 10 s."""
    met = orbit.epoch_met + np.arange(0.0, 86400.0, 10.0)
    return met, orbit.states(met), orbit.ground_track(met)


def test_orbit_period_inclination_altitude_match_fermi(day):
    _, states, track = day
    nodes = ascending_nodes(states)
    period_min = np.diff(nodes).mean() / 60.0
    assert 94.5 < period_min < 96.5  # nodal period, ~95.7 min at launch, decaying since
    assert np.abs(osculating_inclination_deg(states) - 25.6).max() < 0.2
    assert 520e3 < track.height_m.min() and track.height_m.max() < 560e3
    assert np.abs(track.lat_deg).max() == pytest.approx(25.6, abs=0.3)
    assert 15 <= nodes.size <= 16  # about 15.1 orbits a day


def test_gcrs_interpolated_rotation_matches_astropy_per_sample(orbit):
    met = orbit.epoch_met + np.array([0.0, 1234.5, 3600.0, 7777.7])
    fast, exact = orbit.states(met), orbit.states_exact(met)
    assert np.abs(fast.position - exact.position).max() < 1.0  # m
    assert np.abs(fast.velocity - exact.velocity).max() < 1e-3  # m/s


def test_bad_tle_is_a_clear_error():
    with pytest.raises(TleError, match=r"my\.tle: line 2 checksum is '1'"):
        tle_from_lines((DEFAULT_TLE[0], DEFAULT_TLE[1][:-1] + "1"), source="my.tle")  # checksum is 0


def test_saa_polygon_is_the_fssc_file_with_positive_northern_vertices():
    assert LAT_SAA_2008198.name == "L_SAA_2008198.03"
    assert LAT_SAA_2008198.lat_deg[2:7] == (2.5, 5.2, 5.2, 4.6, 0.7)
    assert LAT_SAA_2008198.lon_deg[0] == 33.9 and LAT_SAA_2008198.lon_deg[-1] == -86.1
    inside = LAT_SAA_2008198.contains(
        np.array([-20.0, -20.0, 20.0, 3.0, 3.0]), np.array([-40.0, 100.0, -40.0, -30.0, 60.0])
    )
    assert inside.tolist() == [True, False, False, True, False]


def test_saa_passages_over_a_day_look_like_fermis(day):
    met, _, track = day
    inside = LAT_SAA_2008198.contains(track.lat_deg, track.lon_deg)
    p = passages(met, inside)
    duration_min = (p[:, 1] - p[:, 0]) / 60.0
    assert 6 <= len(p) <= 12
    assert duration_min.max() < 35.0
    assert 0.08 < inside.mean() < 0.22  # 14.7 % on a 2017 day (isoc.md)


def test_passages_edges():
    met = np.arange(6.0)
    assert passages(met, np.array([1, 1, 0, 0, 1, 1], bool)).tolist() == [[0.0, 2.0], [4.0, 5.0]]
    assert passages(met, np.zeros(6, bool)).shape == (0, 2)


def test_rock_profile_alternates_each_orbit_with_smooth_slews():
    nodes = np.array([1000.0, 6700.0])
    a = rock_profile(np.array([0.0, 999.0, 1000.0, 1200.0, 3000.0, 6800.0, 9000.0]), nodes, 50.0, 300.0)
    assert a[0] == 50.0 and a[4] == -50.0 and a[6] == 50.0
    assert 0 < a[1] < 50.0 and abs(a[2]) < 1e-9 and a[3] == -50.0
    assert -50.0 < a[5] < 50.0


def test_survey_attitude_rocks_50_deg_and_points_x_to_the_sun(orbit):
    tl = spacecraft.timeline(orbit, orbit.epoch_met, orbit.epoch_met + 4 * 3600.0, attitude_hz=1)
    zenith = tl.position / np.linalg.norm(tl.position, axis=1)[:, None]
    angle = np.degrees(np.arccos(np.clip(np.sum(zenith * tl.attitude.z_axis, axis=1), -1, 1)))
    steady = np.abs(np.abs(tl.attitude.rock_deg) - 50.0) < 1e-9
    assert steady.mean() > 0.9
    assert np.abs(angle[steady] - 50.0).max() < 1e-6
    # north on one orbit, south on the next
    north = np.cross(tl.position, tl.velocity)
    side = np.sign(np.sum(north * tl.attitude.z_axis, axis=1))[steady]
    assert set(side.tolist()) == {-1.0, 1.0}
    # the quaternion rotates body +Z and +X onto the axes; +X leans toward the Sun
    rot = quaternion_to_matrix(tl.attitude.quaternion)
    assert np.abs(rot[:, :, 2] - tl.attitude.z_axis).max() < 1e-12
    assert np.allclose(np.linalg.norm(tl.attitude.quaternion, axis=1), 1.0)
    from fermi_latsim.attitude import sun_direction

    assert (np.sum(sun_direction(tl.met) * tl.attitude.x_axis, axis=1) >= 0).all()


def test_quaternion_round_trip_including_half_turns():
    rng = np.random.default_rng(1)
    q = rng.normal(size=(200, 4))
    q /= np.linalg.norm(q, axis=1)[:, None]
    q[q[:, 3] < 0] *= -1
    q[0] = [1.0, 0.0, 0.0, 0.0]  # 180 deg about x: w = 0 pivot
    back = matrix_to_quaternion(quaternion_to_matrix(q))
    assert (
        np.abs(back - q).max() < 1e-12
        or np.abs(quaternion_to_matrix(back) - quaternion_to_matrix(q)).max() < 1e-12
    )


def test_apid_1020_records_round_trip_through_fermi_ingest(orbit):
    t0 = np.floor(orbit.epoch_met)
    tl = spacecraft.timeline(orbit, t0, t0 + 20.0)
    rec = spacecraft.records(tl)
    assert rec.size == 100  # 5 Hz for 20 s
    cols = spacecraft.packets(rec, first_count=16380)
    table = decode_buffer(encode_packets(cols), source="sc.pkt")
    assert len(table) == 100 and table.bad_bytes == 0
    assert (table.apid == 1020).all() and (table.seq_flags == 3).all()
    assert table.seq_count[:5].tolist() == [16380, 16381, 16382, 16383, 0]
    payloads = np.stack([table.payload(i) for i in range(len(table))])
    back = spacecraft.decode_records(payloads)
    assert (back["record_type"] == 1).all() and (back["version"] == 1).all()
    # position once a second (1 Hz), attitude at every record (5 Hz)
    orbit_ok = (back["flags"] & spacecraft.FLAG_ORBIT_INVALID) == 0
    assert orbit_ok.sum() == 20 and (back["usec"][orbit_ok] == 0).all()
    assert np.allclose(back["position"][orbit_ok], tl.position[tl.orbit_sample])
    assert np.allclose(back["quaternion"], tl.attitude.quaternion)
    assert (table.sec + table.usec * 1e-6 == back["sec"] + back["usec"] * 1e-6).all()
    r = np.linalg.norm(back["position"][orbit_ok], axis=1)
    assert (6.85e6 < r).all() and (r < 6.95e6).all()


def test_timeline_rejects_bad_rates(orbit):
    with pytest.raises(ValueError, match="attitude_hz"):
        spacecraft.timeline(orbit, 0.0, 10.0, attitude_hz=5, orbit_hz=2)
