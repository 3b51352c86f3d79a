"""Where particles enter the tracker, and what side entry does to calorimeter energy."""

import numpy as np
import pytest

from fermi_l1 import instrument as lat
from fermi_latsim import detector


def _directions(rng, n, lo_deg, hi_deg):
    cos = rng.uniform(np.cos(np.radians(hi_deg)), np.cos(np.radians(lo_deg)), n)
    phi = rng.uniform(0.0, 2 * np.pi, n)
    sin = np.sqrt(1.0 - cos**2)
    return np.column_stack([sin * np.cos(phi), sin * np.sin(phi), cos])


def test_projected_area_is_the_top_on_axis_and_adds_the_walls_off_axis():
    w = 2 * lat.ARRAY_HALF_WIDTH_MM
    height = detector.TRACKER_TOP_Z_MM - detector.TRACKER_BOTTOM_Z_MM
    assert detector.projected_area_mm2(np.array([0.0, 0.0, -1.0]))[0] == pytest.approx(w * w)
    t = np.radians(60.0)
    u = np.array([np.sin(t), 0.0, -np.cos(t)])
    assert detector.projected_area_mm2(u)[0] == pytest.approx(w * w * 0.5 + w * height * np.sin(t))


def test_entry_points_are_on_the_faces_facing_the_particle_in_proportion_to_their_area():
    rng = np.random.default_rng(3)
    t = np.radians(60.0)
    u = np.tile([np.sin(t), 0.0, -np.cos(t)], (20000, 1))  # moving along +x and down
    p = detector.entry_points(rng, u)
    h = lat.ARRAY_HALF_WIDTH_MM
    top = p[:, 2] == detector.TRACKER_TOP_Z_MM
    wall = np.isclose(p[:, 0], -h)  # the -x wall faces a particle moving along +x
    assert (top | wall).all() and not (top & wall).any()
    assert (np.abs(p[:, :2]) <= h).all()
    assert ((p[:, 2] >= detector.TRACKER_BOTTOM_Z_MM) & (p[:, 2] <= detector.TRACKER_TOP_Z_MM)).all()
    expect_top = (2 * h) ** 2 * np.cos(t) / detector.projected_area_mm2(u[:1])[0]
    assert top.mean() == pytest.approx(expect_top, abs=0.015)
    # uniform on each face: the wall entries spread evenly in height
    z = p[wall, 2]
    mid = 0.5 * (detector.TRACKER_TOP_Z_MM + detector.TRACKER_BOTTOM_Z_MM)
    assert (z < mid).mean() == pytest.approx(0.5, abs=0.03)


def _no_cal_share(entry, lo, hi, n=4000, seed=11):
    rng = np.random.default_rng(seed)
    body = _directions(rng, n, lo, hi)
    r = detector.simulate_response(
        rng, np.arange(n) * 0.01, body, np.full(n, 1000.0), np.zeros(n, bool), entry=entry
    )
    photon = r.conversion_plane >= 0
    return float((r.cal_energy_mev[photon] < 1.0).mean()), r


def test_side_entry_photons_at_large_inclination_shower_in_the_calorimeter():
    top, _ = _no_cal_share("top", 60.0, 75.0)
    volume, r = _no_cal_share("volume", 60.0, 75.0)
    # through the top only, most inclined photons leave the tracker side before the CAL; the
    # photons entering the walls convert lower and most of them reach it
    assert top > 0.8
    assert volume < 0.6
    # the side-entry photons convert low: the BACK share grows
    assert (r.conversion_plane >= lat.FIRST_BACK_PLANE).mean() > 0.3


def test_near_the_boresight_side_entry_changes_little():
    top, _ = _no_cal_share("top", 0.0, 30.0)
    volume, _ = _no_cal_share("volume", 0.0, 30.0)
    assert top < 0.1 and volume < 0.1


def test_unknown_entry_mode_is_refused():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="parameter 'entry'"):
        detector.simulate_response(
            rng, np.zeros(1), np.array([[0.0, 0.0, 1.0]]), np.ones(1), np.zeros(1, bool), entry="side"
        )


def test_an_inclined_shower_deposits_where_it_crosses_a_layer_not_only_at_its_middle():
    # a shower axis at 66 deg heading out through the +x side of the calorimeter: it enters layer
    # 0 inside the array and crosses the middle of the layer 12 mm outside it
    t = np.radians(66.0)
    axis = np.array([[np.sin(t), 0.0, -np.cos(t)]])
    z_mid = lat.CAL_LAYER_Z_MM[0]
    x_mid = lat.ARRAY_HALF_WIDTH_MM + 12.0
    vertex = np.array([[x_mid - 100.0 * np.tan(t), 0.0, z_mid + 100.0]])
    energy = np.zeros((1, lat.N_CAL_LAYERS))
    energy[0, 0] = 300.0
    logs = detector._cal_deposits(np.random.default_rng(0), np.zeros(1, np.int64), vertex, axis, energy, 0.1)
    assert logs.size > 0 and (logs["layer"] == 0).all()
    assert set(logs["tower"].tolist()) <= {3, 7, 11, 15}  # the +x edge towers
    dep, _ = lat.cal_log_energy(
        lat.cal_adc_to_energy(logs["range_pos"], logs["adc_pos"]),
        lat.cal_adc_to_energy(logs["range_neg"], logs["adc_neg"]),
    )
    # the upper third of the layer's path is inside: about a third of the deposit stays
    assert 0.2 * 300.0 < dep.sum() < 0.5 * 300.0
