"""The LAT instrument model: published figures and the position <-> channel mappings."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fermi_l1 import instrument as inst


def test_published_figures() -> None:
    assert inst.N_TOWERS == 16
    assert inst.N_STRIPS == 1536
    assert inst.N_STRIPS * inst.STRIP_PITCH_MM == pytest.approx(350.2, abs=0.1)
    # 12 thin FRONT foils, 4 thick BACK, 2 without converter
    assert np.count_nonzero(inst.FOIL_X0 == inst.THIN_FOIL_X0) == 12
    assert np.count_nonzero(inst.FOIL_X0 == inst.THICK_FOIL_X0) == 4
    assert np.all(inst.FOIL_X0[16:] == 0)
    # total tracker ~1.5 X0 on axis, calorimeter 8.6 X0 (Atwood et al. 2009)
    assert inst.TKR_X0_BELOW[0] + inst.THIN_FOIL_X0 == pytest.approx(1.5, abs=0.1)
    assert inst.CAL_X0 == pytest.approx(8.6, abs=0.1)
    assert len(inst.ACD_TILE_IDS) == 89
    assert np.count_nonzero(inst.ACD_TILE_IDS < 100) == 25
    # planes are ordered top to bottom, X layer above Y
    assert np.all(np.diff(inst.TKR_PLANE_Z_MM) < 0)
    assert np.all(inst.TKR_LAYER_Z_MM[:, 0] > inst.TKR_LAYER_Z_MM[:, 1])
    assert inst.CAL_LAYER_Z_MM[0] < 0 < inst.TKR_LAYER_Z_MM[-1, 1]


def test_tower_numbering() -> None:
    x, y = inst.tower_center_mm(np.arange(16))
    assert inst.tower_of(x, y).tolist() == list(range(16))
    assert inst.tower_of(np.array([-800.0, 0.0]), np.array([0.0, 800.0])).tolist() == [-1, -1]
    # tower 1 is the +X neighbour of tower 0, tower 4 the +Y neighbour
    assert x[1] - x[0] == pytest.approx(inst.TOWER_PITCH_MM)
    assert y[4] - y[0] == pytest.approx(inst.TOWER_PITCH_MM)


def test_strip_round_trip_all_channels() -> None:
    tower = np.repeat(np.arange(16), 2 * inst.N_STRIPS)
    view = np.tile(np.repeat([0, 1], inst.N_STRIPS), 16)
    strip = np.tile(np.arange(inst.N_STRIPS), 32)
    u = inst.strip_position_mm(tower, view, strip)
    cx, cy = inst.tower_center_mm(tower)
    # cross the layer at the strip centre, in the middle of the other coordinate's first ladder
    v = np.where(view == 0, cy, cx) + 0.5 * inst.WAFER_PITCH_MM
    x = np.where(view == 0, u, v)
    y = np.where(view == 0, v, u)
    t2, s2 = inst.locate_strip(x, y, view)
    assert np.array_equal(t2, tower)
    assert np.array_equal(s2, strip)
    # neighbouring strips within a wafer are one pitch apart; wafers leave a dead gap
    d = np.diff(u[: inst.N_STRIPS])
    assert np.allclose(d[d < 1.0], inst.STRIP_PITCH_MM)
    assert np.count_nonzero(d > 1.0) == inst.N_WAFERS - 1


def test_strip_dead_regions() -> None:
    cx, cy = inst.tower_center_mm(np.array([5]))
    # x = 0 is a boundary between towers; a tower centre is the boundary of wafers 1 and 2
    x = np.array([0.0, cx[0], cx[0] + 40.0])
    t, s = inst.locate_strip(x, np.full(3, cy[0] + 40.0), 0)
    assert s.tolist()[:2] == [-1, -1] and t.tolist()[:2] == [-1, -1]
    assert s[2] == 2 * inst.STRIPS_PER_WAFER + int(
        (40.0 - 0.5 * inst.WAFER_PITCH_MM) / inst.STRIP_PITCH_MM + inst.STRIPS_PER_WAFER / 2
    )


def test_log_round_trip() -> None:
    tower = np.repeat(np.arange(16), 96)
    layer = np.tile(np.repeat(np.arange(8), 12), 16)
    column = np.tile(np.arange(12), 128)
    x, y, z = inst.cal_log_center_mm(tower, layer, column)
    t2, l2, c2, off = inst.locate_log(x, y, z)
    assert np.array_equal(t2, tower) and np.array_equal(l2, layer) and np.array_equal(c2, column)
    assert np.allclose(off, 0.0)
    # a point 100 mm along the log axis (+X on even layers, +Y on odd)
    along_x = layer % 2 == 0
    _, _, _, off = inst.locate_log(x + 100.0 * along_x, y + 100.0 * ~along_x, z)
    assert np.allclose(off, 100.0)


def test_cal_readout_inverts() -> None:
    energy = np.geomspace(3.0, 3.0e4, 40)
    offset = np.linspace(-150.0, 150.0, 40)
    pos, neg = inst.cal_face_energies(energy, offset)
    rp, ap = inst.cal_energy_to_adc(pos)
    rn, an = inst.cal_energy_to_adc(neg)
    assert np.all(ap <= 4095) and np.all(ap < inst.CAL_RANGE_SWITCH_ADC)
    e2, off2 = inst.cal_log_energy(inst.cal_adc_to_energy(rp, ap), inst.cal_adc_to_energy(rn, an))
    # ADC quantisation: at most half a count of the range used
    assert np.allclose(e2, energy, rtol=0.02)
    assert np.allclose(off2, offset, atol=3.0)
    # saturation in the highest range
    r, a = inst.cal_energy_to_adc(np.array([1.0e6]))
    assert r[0] == 3 and a[0] == 4095


def test_incomplete_gamma_known_values() -> None:
    a = np.array([0.5, 2.0, 1.0, 5.0, 10.0])
    x = np.array([1.0, 3.0, 2.0, 20.0, 15.0])
    expected = [
        math.erf(1.0),
        1.0 - 4.0 * math.exp(-3.0),
        1.0 - math.exp(-2.0),
        1.0 - math.exp(-20.0) * sum(20.0**k / math.factorial(k) for k in range(5)),
        1.0 - math.exp(-15.0) * sum(15.0**k / math.factorial(k) for k in range(10)),
    ]
    assert np.allclose(inst.regularized_gamma_p(a, x), expected, rtol=1e-10, atol=1e-14)


def test_shower_fraction_leaks_more_at_high_energy() -> None:
    e = np.array([100.0, 1.0e3, 1.0e4, 1.0e5])
    f = inst.shower_fraction(e, 1.0, 1.0 + inst.CAL_X0)
    assert np.all(np.diff(f) < 0)
    assert np.all((f > 0.2) & (f < 1.0))
    assert inst.shower_fraction(1.0e3, 0.0, 1e4) == pytest.approx(1.0)


def test_acd_tiles_and_rays() -> None:
    for tile in inst.ACD_TILE_IDS:
        face, b = inst.acd_tile_bounds_mm(int(tile))
        assert face == tile // 100
        centre = b.mean(axis=1)
        assert inst.acd_tile_at(centre[0], centre[1], centre[2]) == tile
    with pytest.raises(ValueError, match="ACD tile id 55"):
        inst.acd_tile_bounds_mm(55)
    origin = np.array([[0.0, 0.0, 300.0]] * 4)
    direction = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]])
    tile, point = inst.acd_ray_intersection(origin, direction)
    assert tile.tolist() == [22, 322, 222, -1]  # z = 300 mm is in side row 2
    assert point[1].tolist() == [inst.ACD_HALF_WIDTH_MM, 0.0, 300.0]


def test_conversion_type() -> None:
    assert inst.conversion_type(np.array([0, 11, 12, 17, -1])).tolist() == [0, 0, 1, 1, -1]
