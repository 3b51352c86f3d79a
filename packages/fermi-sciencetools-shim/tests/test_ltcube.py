"""gtltcube: grid, kernel == numpy twin, zenith cut, product layout, and the real gammalib ltcube."""

import numpy as np
import pytest
from astropy.io import fits

from fermi_sciencetools_shim.errors import InputFileError, ParameterError
from fermi_sciencetools_shim.gti import Gti
from fermi_sciencetools_shim.io.ft2 import read_ft2
from fermi_sciencetools_shim.ltcube import _kernels, _reference
from fermi_sciencetools_shim.ltcube.grid import LivetimeGrid, nside_for_binsz, unit_vectors
from fermi_sciencetools_shim.ltcube.gtltcube import cos_theta_bounds, gtltcube, main
from fermi_sciencetools_shim.ltcube.livetime import livetime_cube, row_weights


def test_nside_rule():
    assert nside_for_binsz(1.0) == 64
    assert nside_for_binsz(5.0) == 16
    assert nside_for_binsz(0.01) == 512  # capped
    with pytest.raises(ParameterError, match="binsz"):
        nside_for_binsz(0.0)


def test_cos_theta_bounds_are_sqrt_spaced():
    lo, hi = cos_theta_bounds(40)
    assert hi[0] == 1.0 and lo[-1] == 0.0
    np.testing.assert_allclose(np.sqrt(1 - lo), (np.arange(40) + 1) / 40)
    np.testing.assert_array_equal(lo[:-1], hi[1:])


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(2)
    n = 120
    scz = unit_vectors(rng.uniform(0, 360, n), rng.uniform(-70, 70, n))
    zen = unit_vectors(rng.uniform(0, 360, n), rng.uniform(-30, 30, n))
    delta = rng.uniform(0, 28, n)
    delta[::9] = 0.0
    return scz, zen, delta, delta * 0.9


def _kernel(grid, scz, zen, d, wd, nbins, zmax, zmin, blocks=None):
    """Run the kernel like livetime_cube does; return the (npix, nbins, 2) cells of real pixels."""
    zenith_cut = zmax < 180.0 or zmin > 0.0
    czmax, czmin = np.cos(np.radians(zmax)), (np.cos(np.radians(zmin)) if zmin > 0 else 1.0)
    thr = np.empty((grid.nblocks, 3, 2))
    for j, cut in enumerate((0.0, czmax, czmin)):
        thr[:, j, 0], thr[:, j, 1] = grid.cap_thresholds(cut)
    acc = np.zeros((grid.padded_xyz.shape[0], nbins, 2), np.float32)
    cols = [
        np.ascontiguousarray(a[:, i]) for a in (grid.padded_xyz, grid.block_xyz, scz, zen) for i in range(3)
    ]
    blocks = np.arange(grid.nblocks) if blocks is None else blocks
    _kernels.accumulate_livetime(
        *cols[:6], thr, blocks, *cols[6:], d, wd, nbins, czmax, czmin, zenith_cut, acc
    )
    return acc[: grid.npix]


@pytest.mark.parametrize(("zmax", "zmin"), [(180.0, 0.0), (105.0, 0.0), (90.0, 30.0)])
@pytest.mark.parametrize("nside", [2, 16])
def test_kernel_matches_brute_force_reference(rows, nside, zmax, zmin):
    grid = LivetimeGrid.build(nside)  # NSIDE 2: one block padded from 48 to 64 pixels
    scz, zen, d, wd = rows
    zenith_cut = zmax < 180.0 or zmin > 0.0
    czmax, czmin = np.cos(np.radians(zmax)), (np.cos(np.radians(zmin)) if zmin > 0 else 1.0)
    cells = _kernel(grid, scz, zen, d, wd, 20, zmax, zmin)
    re, rw = _reference.accumulate_livetime(grid.xyz, scz, zen, d, wd, 20, czmax, czmin, zenith_cut)
    np.testing.assert_array_equal(cells[:, :, 0], re)
    np.testing.assert_array_equal(cells[:, :, 1], rw)
    assert re.sum() > 0
    # each row adds its weight to every pixel of its visible hemisphere (within the cut)
    if not zenith_cut:
        visible = (grid.xyz @ scz.T > 0).sum(axis=0)
        assert cells[:, :, 0].sum(dtype=np.float64) == pytest.approx(np.sum(visible * d), rel=1e-6)


def test_kernel_fills_only_the_blocks_it_is_given(rows):
    grid = LivetimeGrid.build(16)
    scz, zen, d, wd = rows
    whole = _kernel(grid, scz, zen, d, wd, 20, 105.0, 0.0)
    even = _kernel(grid, scz, zen, d, wd, 20, 105.0, 0.0, np.arange(0, grid.nblocks, 2))
    per_block = even.reshape(grid.nblocks, grid.block_size, 20, 2)
    assert not per_block[1::2].any()
    np.testing.assert_array_equal(per_block[0::2], whole.reshape(per_block.shape)[0::2])


def test_cap_thresholds_are_conservative():
    grid = LivetimeGrid.build(16)
    rng = np.random.default_rng(5)
    v = unit_vectors(rng.uniform(0, 360, 200), rng.uniform(-90, 90, 200))
    members = grid.padded_xyz.reshape(grid.nblocks, grid.block_size, 3)
    for cos_cut in (0.0, np.cos(np.radians(105.0)), np.cos(np.radians(30.0))):
        inside, outside = grid.cap_thresholds(cos_cut)
        c0 = grid.block_xyz @ v.T  # (nblocks, ndir)
        pix = np.einsum("bpi,di->bdp", members, v)  # (nblocks, ndir, pixels)
        all_in = (pix > cos_cut).all(axis=2)
        none_in = ~(pix > cos_cut).any(axis=2)
        assert np.all(all_in[c0 > inside[:, None]]) and np.all(none_in[c0 <= outside[:, None]])
        if cos_cut == 0.0:  # at the horizon the shortcuts decide most (block, direction) pairs
            assert (c0 > inside[:, None]).mean() > 0.3 and (c0 <= outside[:, None]).mean() > 0.3


def test_livetime_cube_does_not_depend_on_threads(tmp_path):
    rng = np.random.default_rng(3)
    n = 300
    start = 1e8 + 30.0 * np.arange(n)
    ft2 = {
        "START": start,
        "STOP": start + 30.0,
        "LIVETIME": rng.uniform(20, 28, n),
        "RA_SCZ": rng.uniform(0, 360, n),
        "DEC_SCZ": rng.uniform(-60, 60, n),
        "RA_ZENITH": rng.uniform(0, 360, n),
        "DEC_ZENITH": rng.uniform(-30, 30, n),
    }
    gti = Gti.from_intervals([start[0] + 10.0], [start[-1]])
    grid = LivetimeGrid.build(16)
    one = livetime_cube(grid, gti, ft2, 20, zmax=100.0, threads=1)
    three = livetime_cube(grid, gti, ft2, 20, zmax=100.0, threads=3)
    np.testing.assert_array_equal(one[0], three[0])
    np.testing.assert_array_equal(one[1], three[1])
    delta, wdelta = row_weights(gti, ft2)
    assert delta[0] == pytest.approx(ft2["LIVETIME"][0] * 20.0 / 30.0) and delta[-1] == 0.0
    np.testing.assert_allclose(wdelta, delta * ft2["LIVETIME"] / 30.0)


def _write_inputs(tmp_path):
    start = np.arange(0.0, 3000.0, 30.0) + 1e8
    stop = start + 30.0
    n = start.size
    ra_scz = np.linspace(0.0, 350.0, n)
    cols = [
        fits.Column("START", "D", array=start),
        fits.Column("STOP", "D", array=stop),
        fits.Column("LIVETIME", "D", array=np.full(n, 25.0)),
        fits.Column("RA_SCZ", "E", array=ra_scz),
        fits.Column("DEC_SCZ", "E", array=np.full(n, 20.0)),
        fits.Column("RA_ZENITH", "E", array=ra_scz + 30.0),
        fits.Column("DEC_ZENITH", "E", array=np.full(n, 0.0)),
    ]
    ft2 = tmp_path / "ft2.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols, name="SC_DATA")]).writeto(ft2)
    ev = fits.BinTableHDU.from_columns([fits.Column("TIME", "D", array=[1e8 + 10])], name="EVENTS")
    gti = fits.BinTableHDU.from_columns(
        [
            fits.Column("START", "D", array=[1e8 + 15.0, 1e8 + 1000.0]),
            fits.Column("STOP", "D", array=[1e8 + 600.0, 1e8 + 2000.0]),
        ],
        name="GTI",
    )
    ft1 = tmp_path / "ft1.fits"
    fits.HDUList([fits.PrimaryHDU(), ev, gti]).writeto(ft1)
    return ft1, ft2


def test_gtltcube_product(tmp_path):
    ft1, ft2 = _write_inputs(tmp_path)
    out = gtltcube(str(ft2), str(tmp_path / "lt.fits"), str(ft1), binsz=10.0, dcostheta=0.1, zmax=105.0)
    with fits.open(out) as h:
        assert [x.name for x in h] == ["PRIMARY", "EXPOSURE", "WEIGHTED_EXPOSURE", "CTHETABOUNDS", "GTI"]
        exp = h["EXPOSURE"].header
        assert (exp["NSIDE"], exp["NBRBINS"], exp["LASTPIX"], exp["ORDERING"]) == (8, 10, 767, "NESTED")
        assert exp["ZENMAX"] == 105.0 and exp["NDSKEYS"] == 1 and exp["DSVAL1"] == "TABLE"
        assert h["EXPOSURE"].data["COSBINS"].shape == (768, 10)
        assert exp["TSTART"] == 1e8 + 15.0 and exp["TSTOP"] == 1e8 + 2000.0
        # the livetime seen by a pixel never exceeds the GTI-weighted total livetime
        total = 25.0 * (585.0 + 1000.0) / 30.0
        per_pixel = h["EXPOSURE"].data["COSBINS"].sum(axis=1)
        assert per_pixel.max() <= total * (1 + 1e-6) and per_pixel.max() > 0.3 * total
        # weighted = exposure x livetime fraction (25/30) for these uniform rows
        np.testing.assert_allclose(
            h["WEIGHTED_EXPOSURE"].data["COSBINS"], h["EXPOSURE"].data["COSBINS"] * 25 / 30, rtol=1e-6
        )
        assert h["GTI"].header["ONTIME"] == pytest.approx(1585.0)


def test_gtltcube_errors(tmp_path, capsys):
    ft1, ft2 = _write_inputs(tmp_path)
    with pytest.raises(ParameterError, match="phibins"):
        gtltcube(str(ft2), str(tmp_path / "x.fits"), str(ft1), phibins=-1)
    with pytest.raises(ParameterError, match="tmax"):
        gtltcube(str(ft2), str(tmp_path / "x.fits"))
    with pytest.raises(InputFileError, match="SC_DATA"):
        gtltcube(str(ft1), str(tmp_path / "x.fits"), str(ft1))
    assert not (tmp_path / "x.fits").exists()
    assert main([f"scfile={ft2}", f"outfile={tmp_path / 'x.fits'}", "zmax=200"]) == 1
    assert capsys.readouterr().err.startswith("gtltcube: error: parameter 'zmax'")
    assert main(["--help"]) == 0 and "dcostheta" in capsys.readouterr().out


@pytest.mark.requires_data
def test_gammalib_p7v6_ltcube_reproduced(shared_data, tmp_path):
    folder = shared_data / "gammalib_p7v6"
    out = tmp_path / "ltcube.fits"
    # NSIDE 16 and NBRBINS 20 in the reference header: binsz 5 deg, dcostheta 0.05; no ZENMAX: zmax 180
    args = [f"evfile={folder / 'ft1.fits.gz'}", f"scfile={folder / 'ft2.fits.gz'}", f"outfile={out}"]
    assert main([*args, "dcostheta=0.05", "binsz=5", "zmax=180"]) == 0
    with fits.open(out) as mine, fits.open(folder / "ltcube.fits.gz") as ref:
        for name in ("EXPOSURE", "WEIGHTED_EXPOSURE"):
            np.testing.assert_allclose(
                mine[name].data["COSBINS"], ref[name].data["COSBINS"], rtol=1e-5, atol=0
            )
            np.testing.assert_allclose(mine[name].data["RA"], ref[name].data["RA"], atol=1e-4)
            np.testing.assert_allclose(mine[name].data["DEC"], ref[name].data["DEC"], atol=1e-4)
            for key in ("NSIDE", "NBRBINS", "LASTPIX", "TSTART", "TSTOP", "ORDERING", "COORDSYS", "THETABIN"):
                assert mine[name].header[key] == ref[name].header[key]
        np.testing.assert_array_equal(
            mine["CTHETABOUNDS"].data["CTHETA_MIN"], ref["CTHETABOUNDS"].data["CTHETA_MIN"]
        )
        np.testing.assert_array_equal(mine["GTI"].data["START"], ref["GTI"].data["START"])
        assert mine["GTI"].header["ONTIME"] == pytest.approx(ref["GTI"].header["ONTIME"], rel=1e-12)
        # sub-second digits: the 2012 tool printed .6000 for MET ...446.6, date_obs truncates to .5999
        assert mine[1].header["DATE-OBS"][:19] == ref[1].header["DATE-OBS"][:19]
        assert mine[1].header["DATE-END"] == ref[1].header["DATE-END"]


@pytest.mark.requires_data
def test_kernel_matches_reference_on_real_survey_pointing(shared_data):
    # the benchmark configuration (NSIDE 64, 40 bins, zmax 105) on 150 consecutive real 30 s rows
    names = ["LIVETIME", "RA_SCZ", "DEC_SCZ", "RA_ZENITH", "DEC_ZENITH"]
    ft2 = read_ft2(shared_data / "pint" / "lat_spacecraft_weekly_w323_p202_v001.fits", names)
    sel = slice(3000, 3150)
    scz = unit_vectors(ft2["RA_SCZ"][sel], ft2["DEC_SCZ"][sel])
    zen = unit_vectors(ft2["RA_ZENITH"][sel], ft2["DEC_ZENITH"][sel])
    d = np.ascontiguousarray(ft2["LIVETIME"][sel])
    grid = LivetimeGrid.build(64)
    cells = _kernel(grid, scz, zen, d, d * 0.8, 40, 105.0, 0.0)
    czmax = np.cos(np.radians(105.0))
    re, rw = _reference.accumulate_livetime(grid.xyz, scz, zen, d, d * 0.8, 40, czmax, 1.0, True)
    np.testing.assert_array_equal(cells[:, :, 0], re)
    np.testing.assert_array_equal(cells[:, :, 1], rw)
    # the rocking LAT sees most of the sky within 150 rows (75 min, most of an orbit)
    assert (re.sum(axis=1) > 0).mean() > 0.5
