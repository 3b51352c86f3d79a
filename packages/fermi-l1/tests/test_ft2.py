"""FT2 production: interpolation, geometry against a real FT2 week, livetime, files and merge."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from fermi_core.mission.pointing import slerp
from fermi_l1 import synthetic
from fermi_l1.ft2 import SpacecraftDataError, make_ft2_rows, row_edges, write_ft2_products
from fermi_l1.ft2.attitude import radec, rotate, unit
from fermi_l1.ft2.geomag import dipole_quantities
from fermi_l1.ft2.geometry import earth_fixed, sun_radec
from fermi_l1.ft2.livetime import row_livetime
from fermi_sciencetools_shim.io import read_ft2

RUN = 239557414
W323 = "pint/lat_spacecraft_weekly_w323_p202_v001.fits"


def _run_rows(duration=300.0, start_offset=0.3):
    t0, t1 = RUN + start_offset, RUN + duration + 0.5
    samples = synthetic.spacecraft_samples(RUN - 5.0, duration + 10.0)
    t, lt = synthetic.event_counters(t0, t1)
    return samples, make_ft2_rows(samples, t, lt, t0, t1)


def test_rows_are_whole_seconds_cut_at_the_run_boundaries():
    start, stop = row_edges(100.25, 103.5)
    np.testing.assert_array_equal(start, [100.25, 101.0, 102.0, 103.0])
    np.testing.assert_array_equal(stop, [101.0, 102.0, 103.0, 103.5])
    with pytest.raises(SpacecraftDataError, match="not after run start"):
        row_edges(10.0, 10.0)


def test_slerp_halfway_between_two_attitudes_is_the_half_rotation():
    half = np.radians(45.0)
    q0 = np.array([0.0, 0.0, 0.0, 1.0])
    q1 = np.array([0.0, 0.0, np.sin(half), np.cos(half)])  # 90 deg about z
    q = slerp(np.array([0.0, 1.0]), np.stack([q0, q1]), np.array([0.0, 0.5, 1.0]))
    ra, dec = radec(rotate(q, np.array([1.0, 0.0, 0.0])))
    np.testing.assert_allclose(ra, [0.0, 45.0, 90.0], atol=1e-9)
    np.testing.assert_allclose(dec, 0.0, atol=1e-9)


def test_livetime_follows_the_counters_and_data_holes_get_zero():
    t = np.concatenate([np.arange(0.0, 10.0, 0.01), np.arange(15.0, 20.0, 0.01)])
    live = 0.8 * t  # the counter keeps running through the hole
    start, stop = row_edges(0.0, 20.0)
    lt = row_livetime(start, stop, t, live, max_gap=1.0)
    np.testing.assert_allclose(lt[:9], 0.8, rtol=1e-9)
    np.testing.assert_array_equal(lt[10:15], 0.0)
    np.testing.assert_allclose(lt[15:19], 0.8, rtol=1e-9)
    with pytest.raises(ValueError, match="decreases between events 1 and 2"):
        row_livetime(start, stop, np.array([0.0, 1.0, 2.0]), np.array([0.0, 0.5, 0.4]))


def test_rows_of_a_synthetic_run_know_their_pointing_and_livetime():
    _, rows = _run_rows()
    assert rows["START"][0] == RUN + 0.3 and rows["STOP"][-1] == RUN + 300.5
    np.testing.assert_allclose(rows["LIVETIME"][1:-1], 0.9, rtol=0.05)
    # the survey profile rocks +50 deg north on the first orbit
    np.testing.assert_allclose(rows["ROCK_ANGLE"], 50.0, atol=1e-6)
    # boresight, zenith and orbit pole are consistent with the truth of the generator
    z = unit(rows["RA_SCZ"], rows["DEC_SCZ"])
    zen = unit(rows["RA_ZENITH"], rows["DEC_ZENITH"])
    pole = unit(rows["RA_NPOLE"], rows["DEC_NPOLE"])
    np.testing.assert_allclose(np.sum(z * zen, axis=1), np.cos(np.radians(50.0)), atol=1e-9)
    np.testing.assert_allclose(np.sum(zen * pole, axis=1), 0.0, atol=1e-6)
    np.testing.assert_allclose(rows["DEC_NPOLE"], 90.0 - synthetic.INCLINATION_DEG, atol=1e-6)
    np.testing.assert_allclose(
        np.linalg.norm(rows["SC_POSITION"], axis=1), synthetic.ORBIT_RADIUS_M, rtol=1e-6
    )
    assert np.all(rows["LAT_MODE"] == 5) and np.all(rows["DATA_QUAL"] == 1) and not rows["IN_SAA"].any()


def test_samples_that_do_not_cover_the_run_are_refused():
    samples = synthetic.spacecraft_samples(RUN, 100.0)
    t, lt = synthetic.event_counters(RUN, RUN + 200.0)
    with pytest.raises(SpacecraftDataError, match=r"extrapolation limit 3\.0 s"):
        make_ft2_rows(samples, t, lt, RUN, RUN + 200.0)
    bad = dict(samples, met=samples["met"][::-1].copy())
    with pytest.raises(SpacecraftDataError, match="not increasing at sample 1"):
        make_ft2_rows(bad, t, lt, RUN, RUN + 50.0)


def test_orbit_invalid_records_are_not_used_for_the_position():
    """fermi-halfpipe delivers 5 Hz records; those off the whole second have zero position/velocity
    and the orbit-invalid flag (bit value 4): the rows must come from the valid 1 Hz samples alone."""
    samples = synthetic.spacecraft_samples(RUN - 5.0, 130.0, rate_hz=5.0)
    whole = np.isclose(samples["met"] % 1.0, 0.0) | np.isclose(samples["met"] % 1.0, 1.0)
    assert 0 < whole.sum() < whole.size
    flagged = dict(samples, flags=np.where(whole, 0, 4).astype(np.uint32))
    flagged["position"] = np.where(whole[:, None], samples["position"], 0.0)
    flagged["velocity"] = np.where(whole[:, None], samples["velocity"], 0.0)
    valid_only = {k: v[whole] for k, v in samples.items()}
    t, lt = synthetic.event_counters(RUN + 0.3, RUN + 120.2)
    rows = make_ft2_rows(flagged, t, lt, RUN + 0.3, RUN + 120.2)
    expected = make_ft2_rows(valid_only, t, lt, RUN + 0.3, RUN + 120.2)
    for name in ("SC_POSITION", "LAT_GEO", "LON_GEO", "RAD_GEO", "RA_ZENITH", "DEC_ZENITH", "RA_NPOLE"):
        np.testing.assert_array_equal(rows[name], expected[name], err_msg=name)
    np.testing.assert_allclose(
        np.linalg.norm(rows["SC_POSITION"], axis=1), synthetic.ORBIT_RADIUS_M, rtol=1e-6
    )
    # the attitude still uses every record (none is flagged attitude-invalid)
    np.testing.assert_allclose(rows["QSJ_4"], make_ft2_rows(samples, t, lt, RUN + 0.3, RUN + 120.2)["QSJ_4"])
    # the same from the boolean field that read_samples gives, and an error when nothing is valid
    as_bool = dict(flagged, orbit_invalid=~whole)
    del as_bool["flags"]
    np.testing.assert_array_equal(make_ft2_rows(as_bool, t, lt, RUN + 0.3, RUN + 120.2)["SC_POSITION"],
                                  expected["SC_POSITION"])  # fmt: skip
    with pytest.raises(SpacecraftDataError, match="no spacecraft sample with a valid orbit"):
        make_ft2_rows(dict(flagged, flags=np.full(whole.size, 4, np.uint32)), t, lt, RUN + 0.3, RUN + 120.2)


@pytest.mark.requires_data
def test_geometry_reproduces_a_real_ft2_week(shared_data):
    d = read_ft2(shared_data / W323)
    sl = slice(0, None, 50)
    t, p = d["START"][sl], d["SC_POSITION"][sl]
    q = np.stack([d[f"QSJ_{i}"][sl] for i in range(1, 5)], axis=1)
    ra, dec = radec(rotate(q, np.array([0.0, 0.0, 1.0])))
    np.testing.assert_allclose(ra, d["RA_SCZ"][sl], atol=1e-3)
    np.testing.assert_allclose(dec, d["DEC_SCZ"][sl], atol=1e-3)
    ra, dec = radec(rotate(q, np.array([1.0, 0.0, 0.0])))
    np.testing.assert_allclose(dec, d["DEC_SCX"][sl], atol=1e-3)
    ra, dec = radec(p)
    np.testing.assert_allclose(dec, d["DEC_ZENITH"][sl], atol=1e-3)
    geo = earth_fixed(t, p)
    # ft2Util ignores precession (0.2 deg in 2014); astropy does not
    np.testing.assert_allclose(geo["LAT_GEO"], d["LAT_GEO"][sl], atol=0.08)
    dlon = (geo["LON_GEO"] - d["LON_GEO"][sl] + 180.0) % 360.0 - 180.0
    assert np.abs(dlon).max() < 0.25
    np.testing.assert_allclose(geo["RAD_GEO"], d["RAD_GEO"][sl], atol=6.5e3)
    ra_sun, dec_sun = sun_radec(t)
    np.testing.assert_allclose(ra_sun, d["RA_SUN"][sl], atol=20 / 3600)
    np.testing.assert_allclose(dec_sun, d["DEC_SUN"][sl], atol=20 / 3600)
    mag = dipole_quantities(geo["itrs"], geo["decimal_year"])
    assert abs(np.median(mag["L_MCILWAIN"] / d["L_MCILWAIN"][sl]) - 1.0) < 0.05
    assert abs(np.median(d["B_MCILWAIN"][sl] / mag["B_MCILWAIN"]) - 1.0) < 0.1
    assert np.corrcoef(mag["LAMBDA"], d["LAMBDA"][sl])[0, 1] > 0.95
    # the sign of ROCK_ANGLE: + when the boresight is north of the zenith
    rock_sign = np.sign(d["DEC_SCZ"] - d["DEC_ZENITH"])
    assert np.all(np.sign(d["ROCK_ANGLE"]) == rock_sign)


def test_files_are_deterministic_and_the_30s_file_merges_the_1s_rows(tmp_path):
    _, rows = _run_rows()
    a = write_ft2_products(tmp_path / "a", RUN, rows, date="2024-05-01T12:00:00")
    b = write_ft2_products(tmp_path / "b", RUN, rows, date="2024-05-01T12:00:00")
    assert a.seconds.name == "gll_pt1s_p310_r0239557414_v001.fit"
    assert a.merged.name == "gll_pt_p310_r0239557414_v001.fit"
    assert a.seconds.read_bytes() == b.seconds.read_bytes()
    assert a.merged.read_bytes() == b.merged.read_bytes()
    with fits.open(a.merged, checksum=True) as hdul:
        assert hdul[0].header["DATE"] == "2024-05-01T12:00:00"
        assert hdul["SC_DATA"].header["DATE"] == "2024-05-01T12:00:00"
        assert hdul["SC_DATA"].verify_checksum() == 1
    one, thirty = read_ft2(a.seconds), read_ft2(a.merged)
    assert one["START"].size == rows["START"].size
    assert np.all(thirty["STOP"] - thirty["START"] <= 30.0 + 1e-9)
    assert thirty["LIVETIME"].sum() == pytest.approx(one["LIVETIME"].sum(), rel=1e-12)
    np.testing.assert_array_equal(np.isin(thirty["START"], one["START"]), True)


@pytest.mark.requires_data
def test_ft2_layout_and_keywords_match_a_real_fssc_file(tmp_path, shared_data):
    _, rows = _run_rows(duration=60.0)
    ours = write_ft2_products(tmp_path, RUN, rows, date="2024-05-01T12:00:00")
    with fits.open(shared_data / W323) as real, fits.open(ours.merged) as mine:
        rt, mt = real["SC_DATA"], mine["SC_DATA"]
        assert mt.columns.names == rt.columns.names
        assert [c.format for c in mt.columns] == [c.format for c in rt.columns]
        assert [c.unit for c in mt.columns] == [c.unit for c in rt.columns]
        for hdu_r, hdu_m in ((real[0], mine[0]), (rt, mt)):
            keys_r = {k for k in hdu_r.header if not k.startswith(("T", "HISTORY", "COMMENT"))}
            keys_m = {k for k in hdu_m.header if not k.startswith(("T", "HISTORY", "COMMENT"))}
            assert keys_r <= keys_m, keys_r - keys_m
        assert mine[0].header["PROC_VER"] == 310 and mine[0].header["TELESCOP"] == "GLAST"
        assert mt.header["TIMESYS"] == rt.header["TIMESYS"] and mt.header["MJDREFI"] == rt.header["MJDREFI"]
