"""Reconstruction: round trips on photons with known truth, kernels against the numpy twins."""

from __future__ import annotations

import numpy as np
import pytest

from fermi_l1 import instrument as inst
from fermi_l1.recon import RECON_COLUMNS, interpolate_attitude, reconstruct, sky_directions
from fermi_l1.recon import params as P
from fermi_l1.recon.toymc import simulate_photons

# Stated resolutions of this reconstruction on the toy photons (theta < 40 deg, impact within
# 600 mm of the axis, 2 noise strips per event, 98 % strip efficiency): 68 % containment of the
# angle to the true direction, and median / 68 % spread of E_rec / E_true - 1.
PSF68_DEG = {100.0: 3.0, 1000.0: 0.4, 10000.0: 0.15}
ENERGY_BIAS = {100.0: 0.25, 1000.0: 0.03, 10000.0: 0.03}
ENERGY_SPREAD68 = {100.0: 0.10, 1000.0: 0.05, 10000.0: 0.05}


def _beam(energy: float, n: int, seed: int, **kw):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    return simulate_photons(
        np.full(n, energy),
        rng.uniform(0, 40, n),
        rng.uniform(0, 360, n),
        rng,
        impact_half_width_mm=600.0,
        **kw,
    )


def _angle_to_truth(rec: dict[str, np.ndarray], truth: dict[str, np.ndarray]) -> np.ndarray:
    d = np.stack([rec["DIR_X"], rec["DIR_Y"], rec["DIR_Z"]], axis=1)
    return np.degrees(np.arccos(np.clip(np.sum(d * truth["direction"], axis=1), -1.0, 1.0)))


@pytest.mark.parametrize("energy", [100.0, 1000.0, 10000.0])
def test_direction_and_energy_round_trip(energy: float) -> None:
    events, truth = _beam(energy, 400, seed=int(energy))
    rec = reconstruct(events)
    has = rec["HAS_TRACK"]
    converted = truth["conversion_plane"] >= 0
    assert not np.any(has & ~converted)  # no track without a conversion in the tracker
    assert has.sum() > 0.75 * converted.sum()
    ang = _angle_to_truth(rec, truth)[has]
    assert np.percentile(ang, 68) < PSF68_DEG[energy]
    ratio = rec["ENERGY"][has] / energy - 1.0
    bias = np.median(ratio)
    assert abs(bias) < ENERGY_BIAS[energy]
    assert np.percentile(np.abs(ratio - bias), 68) < ENERGY_SPREAD68[energy]
    # the correction matters: the raw calorimeter sum misses the leakage
    assert np.median(rec["CAL_ENERGY_RAW"][has]) < np.median(rec["ENERGY"][has])
    # THETA/PHI are the angles of the direction vector, and agree with the truth
    assert np.allclose(np.cos(np.radians(rec["THETA"][has])), rec["DIR_Z"][has])
    dphi = (rec["PHI"][has] - truth["phi"][has] + 180.0) % 360.0 - 180.0
    sin_t = np.sin(np.radians(truth["theta"][has]))
    assert np.percentile(np.abs(dphi) * sin_t, 68) < PSF68_DEG[energy]


def test_front_back_matches_conversion_plane() -> None:
    events, truth = _beam(1000.0, 400, seed=5)
    rec = reconstruct(events)
    has = rec["HAS_TRACK"]
    assert np.mean(rec["CONVERSION_TYPE"][has] == truth["conversion_type"][has]) > 0.95
    assert np.mean(rec["FIRST_PLANE"][has] == truth["conversion_plane"][has]) > 0.8
    # FRONT bit iff CONVERSION_TYPE 0 iff first plane 0-11
    front = (rec["EVENT_TYPE"] & P.FRONT) != 0
    back = (rec["EVENT_TYPE"] & P.BACK) != 0
    assert np.array_equal(front[has], rec["CONVERSION_TYPE"][has] == 0)
    assert np.array_equal(back[has], rec["FIRST_PLANE"][has] >= inst.FIRST_BACK_PLANE)


def test_perfect_tracks_find_the_conversion_plane_exactly() -> None:
    events, truth = _beam(5000.0, 200, seed=9, strip_efficiency=1.0, noise_strips=0.0)
    rec = reconstruct(events)
    has = rec["HAS_TRACK"]
    # where the track crosses silicon in the conversion plane, that plane is found exactly
    conv = np.maximum(truth["conversion_plane"], 0)
    on_si = np.zeros(len(conv), dtype=bool)
    for view in (0, 1):
        z = inst.TKR_LAYER_Z_MM[conv, view]
        t = (z - truth["vertex"][:, 2]) / -truth["direction"][:, 2]
        at = truth["vertex"] - t[:, None] * truth["direction"]
        on_si |= inst.locate_strip(at[:, 0], at[:, 1], view)[0] >= 0
    sel = has & on_si
    assert sel.sum() > 0.8 * has.sum()
    assert np.mean(rec["FIRST_PLANE"][sel] == truth["conversion_plane"][sel]) > 0.98
    # otherwise the first hit plane is a later one, never an earlier one
    assert np.all(rec["FIRST_PLANE"][has] >= truth["conversion_plane"][has])


def test_event_types_are_a_partition() -> None:
    rng = np.random.default_rng(11)
    n = 600
    events, truth = simulate_photons(rng.choice([300.0, 3000.0, 30000.0], n), rng.uniform(0, 60, n), 0.0, rng)
    rec = reconstruct(events)
    t = rec["EVENT_TYPE"][rec["HAS_TRACK"]]
    ang = _angle_to_truth(rec, truth)[rec["HAS_TRACK"]]
    for bits in ((P.FRONT, P.BACK), P.PSF_BITS, P.EDISP_BITS):
        ones = sum(((t & b) != 0).astype(int) for b in bits)
        assert np.all(ones == 1)
    assert np.all(rec["EVENT_TYPE"][~rec["HAS_TRACK"]] == 0)
    # the PSF classes sort events by their true direction error
    medians = [np.median(ang[(t & b) != 0]) for b in P.PSF_BITS if np.any((t & b) != 0)]
    assert len(medians) >= 3
    assert np.all(np.diff(medians) < 0)


def test_acd_veto_rejects_charged_particles() -> None:
    rng = np.random.default_rng(3)
    charged = rng.random(400) < 0.5
    events, truth = _beam(1000.0, 400, seed=3, charged=charged)
    assert np.array_equal(truth["charged"], charged)
    rec = reconstruct(events)
    has = rec["HAS_TRACK"]
    source = (rec["EVENT_CLASS"] & P.SOURCE) != 0
    assert np.mean(source[has & charged]) < 0.05
    assert np.mean(source[has & ~charged]) > 0.7
    # the tile crossed by the track is the one the particle fired
    fired = has & charged & (rec["ACD_TILE"] >= 0)
    assert np.mean(rec["ACD_TILE_ENERGY"][fired] > P.ACD_VETO_MEV) > 0.9
    # classes are nested: CLEAN implies SOURCE implies the transient bits
    c = rec["EVENT_CLASS"]
    assert np.all((c[(c & P.CLEAN) != 0] & P.SOURCE) != 0)
    assert np.all((c[(c & P.SOURCE) != 0] & P.TRANSIENT_BITS) == P.TRANSIENT_BITS)


def test_kernels_match_numpy_reference() -> None:
    rng = np.random.default_rng(21)
    n = 150
    events, _ = simulate_photons(
        rng.choice([100.0, 1000.0, 10000.0], n),
        rng.uniform(0, 70, n),
        rng.uniform(0, 360, n),
        rng,
        charged=rng.random(n) < 0.3,
    )
    q = rng.normal(size=(n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    pos = rng.normal(size=(n, 3)) * 7.0e6
    fast = reconstruct(events, q, pos, engine="numba")
    ref = reconstruct(events, q, pos, engine="numpy")
    assert list(fast) == list(RECON_COLUMNS)
    for name, dtype in RECON_COLUMNS.items():
        assert fast[name].dtype == np.dtype(dtype), name
        if fast[name].dtype.kind == "f":
            np.testing.assert_allclose(fast[name], ref[name], rtol=1e-9, atol=1e-9, err_msg=name)
        else:
            np.testing.assert_array_equal(fast[name], ref[name], err_msg=name)


def _radec(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.degrees(np.arctan2(v[:, 1], v[:, 0])) % 360.0, np.degrees(np.arcsin(v[:, 2]))


@pytest.mark.requires_data
def test_sky_directions_match_real_ft2_pointing(shared_data) -> None:  # type: ignore[no-untyped-def]
    from astropy.io import fits

    with fits.open(shared_data / "ft2util" / "ft2_example.fits") as hdul:
        sc = hdul["SC_DATA"].data[::400]
        q = np.stack([sc["QSJ_1"], sc["QSJ_2"], sc["QSJ_3"], sc["QSJ_4"]], axis=1).astype(np.float64)
        pos = np.asarray(sc["SC_POSITION"], dtype=np.float64)
        cols = {k: np.asarray(sc[k], dtype=np.float64) for k in ("RA_SCZ", "DEC_SCZ", "RA_SCX", "DEC_SCX")}
    n = len(q)
    for engine in ("numba", "numpy"):
        # the FT2 pointing columns are the instrument +Z and +X axes
        ra, dec, *_rest, zen, _az = sky_directions(np.tile([0.0, 0.0, 1.0], (n, 1)), q, pos, engine=engine)
        assert np.all(_sep(ra, dec, cols["RA_SCZ"], cols["DEC_SCZ"]) < 1e-4)
        ra, dec, *_ = sky_directions(np.tile([1.0, 0.0, 0.0], (n, 1)), q, pos, engine=engine)
        assert np.all(_sep(ra, dec, cols["RA_SCX"], cols["DEC_SCX"]) < 1e-4)
    # zenith angle of the boresight = angle between SC_POSITION and RA_SCZ/DEC_SCZ
    rz, dz = np.radians(cols["RA_SCZ"]), np.radians(cols["DEC_SCZ"])
    z_axis = np.stack([np.cos(dz) * np.cos(rz), np.cos(dz) * np.sin(rz), np.sin(dz)], axis=1)
    expected = np.degrees(np.arccos(np.sum(z_axis * pos, axis=1) / np.linalg.norm(pos, axis=1)))
    assert np.allclose(zen, expected, atol=1e-3)
    assert np.all(zen < 60.0)  # survey-mode rocking keeps the boresight within ~50 deg of zenith


def _sep(ra1, dec1, ra2, dec2):  # type: ignore[no-untyped-def]
    r1, d1, r2, d2 = (np.radians(np.asarray(a, dtype=np.float64)) for a in (ra1, dec1, ra2, dec2))
    c = np.sin(d1) * np.sin(d2) + np.cos(d1) * np.cos(d2) * np.cos(r1 - r2)
    return np.degrees(np.arccos(np.clip(c, -1, 1)))


@pytest.mark.parametrize("engine", ["numba", "numpy"])
def test_galactic_and_earth_angles(engine: str) -> None:
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    rng = np.random.default_rng(2)
    d = rng.normal(size=(50, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    n = len(d)
    # identity attitude: instrument frame = J2000; spacecraft above RA 0, Dec 0, so that the
    # zenith is +X, local north +Z and local east +Y
    q = np.tile([0.0, 0.0, 0.0, 1.0], (n, 1))
    pos = np.tile([7.0e6, 0.0, 0.0], (n, 1))
    ra, dec, gl, gb, zen, az = sky_directions(d * 3.0, q, pos, engine=engine)
    ra_t, dec_t = _radec(d)
    assert np.allclose(ra, ra_t) and np.allclose(dec, dec_t)
    gal = SkyCoord(ra * u.deg, dec * u.deg, frame="fk5").galactic
    assert np.all(_sep(gl, gb, gal.l.deg, gal.b.deg) < 1e-4)
    assert np.allclose(zen, np.degrees(np.arccos(d[:, 0])))
    assert np.allclose(az, np.degrees(np.arctan2(d[:, 1], d[:, 2])) % 360.0)
    # a rotated attitude: 90 deg about Z maps instrument +X to J2000 +Y (RA 90)
    q90 = np.tile([0.0, 0.0, np.sqrt(0.5), np.sqrt(0.5)], (1, 1))
    ra, dec, *_ = sky_directions(np.array([[1.0, 0.0, 0.0]]), q90, engine=engine)
    assert ra[0] == pytest.approx(90.0) and dec[0] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="direction: expected shape"):
        sky_directions(np.zeros(3), q90)


def test_attitude_inputs() -> None:
    q0 = np.array([0.0, 0.0, 0.0, 1.0])
    q1 = np.array([0.0, 0.0, np.sin(np.radians(5.0)), np.cos(np.radians(5.0))])  # 10 deg about Z
    qs, ps = interpolate_attitude(
        np.array([100.5, 99.0, 200.0]),
        np.array([100.0, 101.0]),
        np.stack([q0, -q1]),  # sign flip of the second row must not matter
        np.array([[0.0, 0.0, 7e6], [0.0, 7e3, 7e6]]),
    )
    angle = 2.0 * np.degrees(np.arctan2(np.abs(qs[:, 2]), np.abs(qs[:, 3])))
    assert np.allclose(angle, [5.0, 0.0, 10.0], atol=1e-6)
    assert np.allclose(ps[0], [0.0, 3.5e3, 7e6])
    events, _ = _beam(1000.0, 3, seed=1)
    with pytest.raises(ValueError, match=r"quaternion: expected shape \(3, 4\)"):
        reconstruct(events, np.zeros((2, 4)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="engine='gpu'"):
        reconstruct(events, engine="gpu")
    # without attitude the sky columns are NaN but the instrument-frame ones are filled
    rec = reconstruct(events)
    assert np.all(np.isnan(rec["RA"]))
