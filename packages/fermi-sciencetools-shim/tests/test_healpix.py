"""gtbin HEALPIX (evtbin HealpixMap) and PHA2 (MultiSpec): kernels against numpy twins and healpy.

healpy is the Python interface of the Healpix C++ library the ScienceTools link, so where it
is installed it is the independent reference for pixel numbers and DISK regions.
"""

import math

import numpy as np
import pytest
from astropy.io import fits

from fermi_sciencetools_shim.bin import _kernels, _reference
from fermi_sciencetools_shim.bin.gtbin import gtbin
from fermi_sciencetools_shim.bin.healpix import HealpixGrid, Region, disk_pixels
from fermi_sciencetools_shim.errors import ParameterError


def _directions(n=200_000, seed=7):
    rng = np.random.default_rng(seed)
    lon = rng.uniform(-20.0, 380.0, n)
    lat = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))
    lat[:500] = rng.uniform(89.4, 90.0, 500)  # near the poles (the sin(theta) branch)
    lat[500:1000] = rng.uniform(-90.0, -89.4, 500)
    lat[1000:1010], lat[1010:1020], lon[1020:1030] = 90.0, -90.0, 360.0
    lat[1030] = np.nan
    return lon, lat


@pytest.mark.parametrize("order", [0, 1, 3, 7, 12])
@pytest.mark.parametrize("nest", [False, True])
def test_pixel_kernel_matches_numpy_twin(order, nest):
    lon, lat = _directions()
    got = _kernels.healpix_pixels(lon, lat, order, nest)
    np.testing.assert_array_equal(got, _reference.healpix_pixels(lon, lat, order, nest))
    assert got[1030] == -1 and got.max() < 12 * 4**order


@pytest.mark.parametrize("nest", [False, True])
def test_pixel_kernel_matches_healpix_cxx(nest):
    healpy = pytest.importorskip("healpy", reason="healpy (Healpix C++) not installed")
    lon, lat = _directions()
    ok = np.isfinite(lat)
    for order in (0, 4, 10):
        want = healpy.ang2pix(2**order, lon[ok], lat[ok], nest=nest, lonlat=True)
        np.testing.assert_array_equal(_kernels.healpix_pixels(lon, lat, order, nest)[ok], want)


def test_lookup_kernel_matches_numpy_twin():
    table = np.array([3, 8, 9, 40], dtype=np.int64)
    values = np.array([-1, 0, 3, 8, 10, 40, 41], dtype=np.int64)
    np.testing.assert_array_equal(
        _kernels.lookup_index(values, table), _reference.lookup_index(values, table)
    )
    assert _kernels.lookup_index(values, table).tolist() == [-1, -1, 0, 1, -1, 3, -1]


@pytest.mark.parametrize(
    "text", ["DISK(83.633,22.015,5)", "DISK(0,90,10)", "DISK(359.9,-89,3)", "DISK(10,0,30)"]
)
def test_disk_is_pixel_centres_within_radius(text):
    region = Region.parse(text)
    for order in (3, 6):
        for nest in (False, True):
            pix = disk_pixels(region, order, nest)
            assert np.all(np.diff(pix) > 0)
            # brute force over every pixel centre
            from astropy_healpix import HEALPix

            grid = HEALPix(nside=2**order, order="nested" if nest else "ring")
            lon, lat = grid.healpix_to_lonlat(np.arange(grid.npix))
            z0, z = math.sin(math.radians(region.lat)), np.sin(lat.rad)
            cosd = z0 * z + np.cos(math.radians(region.lon) - lon.rad) * np.sqrt((1 - z0**2) * (1 - z**2))
            np.testing.assert_array_equal(pix, np.flatnonzero(cosd >= math.cos(math.radians(region.radius))))


def test_disk_matches_healpix_query_disc():
    healpy = pytest.importorskip("healpy", reason="healpy (Healpix C++) not installed")
    region = Region.parse("DISK(184.55,-5.78,2.5)")
    vec = healpy.ang2vec(region.lon, region.lat, lonlat=True)
    for nest in (False, True):
        want = np.sort(healpy.query_disc(512, vec, math.radians(region.radius), nest=nest))
        np.testing.assert_array_equal(disk_pixels(region, 9, nest), want)


def test_bad_healpix_parameters_name_the_parameter():
    for kwargs, name in [
        (dict(order=13, scheme="RING", coordsys="CEL", region=""), "hpx_order"),
        (dict(order=3, scheme="SPIRAL", coordsys="CEL", region=""), "hpx_ordering_scheme"),
        (dict(order=3, scheme="RING", coordsys="CEL", region="BOX(1,2,3)"), "hpx_region"),
        (dict(order=3, scheme="RING", coordsys="CEL", region="DISK(1,2)"), "hpx_region"),
    ]:
        with pytest.raises(ParameterError, match=name):
            HealpixGrid.build(**kwargs)


def _ft1(path, n=3000, seed=2):
    rng = np.random.default_rng(seed)
    ra = (83.6 + rng.normal(0, 8, n)) % 360
    dec = np.clip(22.0 + rng.normal(0, 8, n), -89, 89)
    cols = [
        fits.Column("ENERGY", "E", array=np.geomspace(100.0, 1e5, n).astype(np.float32)),
        fits.Column("RA", "E", array=ra.astype(np.float32)),
        fits.Column("DEC", "E", array=dec.astype(np.float32)),
        fits.Column("L", "E", array=rng.uniform(0, 360, n).astype(np.float32)),
        fits.Column("B", "E", array=rng.uniform(-90, 90, n).astype(np.float32)),
        fits.Column("TIME", "D", array=np.sort(rng.uniform(1000.0, 5000.0, n))),
    ]
    ev = fits.BinTableHDU.from_columns(cols, name="EVENTS")
    ev.header["TSTART"], ev.header["TSTOP"] = 1000.0, 5000.0
    ev.header["NDSKEYS"], ev.header["DSTYP1"], ev.header["DSUNI1"], ev.header["DSVAL1"] = (
        1,
        "ENERGY",
        "MeV",
        "100:100000",
    )
    gti = fits.BinTableHDU.from_columns(
        [fits.Column("START", "D", array=[1000.0, 3000.0]), fits.Column("STOP", "D", array=[2500.0, 5000.0])],
        name="GTI",
    )
    fits.HDUList([fits.PrimaryHDU(), ev, gti]).writeto(path)
    return path


def _ft2(path):
    start = np.arange(900.0, 5100.0, 30.0)
    cols = [
        fits.Column("START", "D", array=start),
        fits.Column("STOP", "D", array=start + 30.0),
        fits.Column("LIVETIME", "D", array=np.full(start.size, 24.0)),
    ]
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols, name="SC_DATA")]).writeto(path)
    return path


@pytest.mark.parametrize("scheme", ["RING", "NESTED"])
def test_healpix_cube_equals_numpy_reference(tmp_path, scheme):
    ft1 = _ft1(tmp_path / "ft1.fits")
    out = gtbin(
        str(ft1), tmp_path / "hpx.fits", "HEALPIX", hpx_order=5, hpx_ordering_scheme=scheme,
        hpx_region="DISK(83.6,22.0,12)", emin=100.0, emax=1e5, enumbins=4, coordsys="CEL",
    )  # fmt: skip
    with fits.open(ft1) as h:
        ra, dec, energy = (np.asarray(h["EVENTS"].data[c], np.float64) for c in ("RA", "DEC", "ENERGY"))
    nest = scheme == "NESTED"
    pixels = disk_pixels(Region.parse("DISK(83.6,22.0,12)"), 5, nest)
    pix = _reference.healpix_pixels(ra, dec, 5, nest)
    row = _reference.lookup_index(pix, pixels)
    ebin = _reference.log_index(energy, 100.0, 1e5, 4)
    want = np.zeros((4, pixels.size))
    ok = (row >= 0) & (ebin >= 0)
    np.add.at(want, (ebin[ok], row[ok]), 1)
    with fits.open(out) as h:
        sky = h["SKYMAP"]
        assert [x.name for x in h] == ["PRIMARY", "SKYMAP", "EBOUNDS", "GTI"]
        assert sky.columns.names == ["PIX", "CHANNEL1", "CHANNEL2", "CHANNEL3", "CHANNEL4"]
        hdr = sky.header
        assert (hdr["PIXTYPE"], hdr["ORDERING"], hdr["ORDER"], hdr["NSIDE"], hdr["INDXSCHM"]) == (
            "HEALPIX",
            scheme,
            5,
            32,
            "EXPLICIT",
        )
        assert hdr["COORDSYS"] == "CEL" and hdr["HPX_REG"] == "DISK(83.6,22.0,12)" and hdr["LASTPIX"] == 12287
        np.testing.assert_array_equal(sky.data["PIX"], pixels)
        got = np.stack([sky.data[f"CHANNEL{k}"] for k in range(1, 5)])
        np.testing.assert_array_equal(got, want)
        assert h["EBOUNDS"].data["E_MIN"][0] == pytest.approx(1e5)  # keV
        assert h["GTI"].header["EXPOSURE"] == pytest.approx(h["GTI"].header["TSTOP"] - 1000.0 - 500.0)
        assert h[0].header["DSVAL1"] == "100:100000"


def test_healpix_all_sky_galactic_uses_l_b_and_one_plane(tmp_path):
    ft1 = _ft1(tmp_path / "ft1.fits")
    out = gtbin(str(ft1), tmp_path / "hpx.fits", "HEALPIX", hpx_order=2, coordsys="GAL", hpx_ebin=False)
    with fits.open(ft1) as h:
        glon, glat, e = (np.asarray(h["EVENTS"].data[c], np.float64) for c in ("L", "B", "ENERGY"))
    with fits.open(out) as h:
        assert h["SKYMAP"].columns.names == ["CHANNEL1"] and h["SKYMAP"].header["INDXSCHM"] == "IMPLICIT"
        assert h["SKYMAP"].header["COORDSYS"] == "GAL" and len(h["SKYMAP"].data) == 192
        want = np.bincount(_reference.healpix_pixels(glon, glat, 2, False), minlength=192)
        np.testing.assert_array_equal(h["SKYMAP"].data["CHANNEL1"], want)
        # one energy bin spanning the events (evtbin hpx_ebin=no)
        np.testing.assert_allclose(
            [h["EBOUNDS"].data["E_MIN"][0], h["EBOUNDS"].data["E_MAX"][0]],
            [e.min() * 1e3, e.max() * 1e3],
            rtol=1e-6,
        )


def test_pha2_spectra_and_exposures(tmp_path):
    ft1 = _ft1(tmp_path / "ft1.fits")
    ft2 = _ft2(tmp_path / "ft2.fits")
    with pytest.raises(ParameterError, match="scfile"):
        gtbin(str(ft1), tmp_path / "p.fits", "PHA2", dtime=1000.0, enumbins=5, emin=100.0, emax=1e5)
    out = gtbin(
        str(ft1), tmp_path / "pha2.fits", "PHA2", scfile=str(ft2), tbinalg="LIN", dtime=1000.0,
        ebinalg="LOG", emin=100.0, emax=1e5, enumbins=5,
    )  # fmt: skip
    with fits.open(ft1) as h:
        t, e = np.asarray(h["EVENTS"].data["TIME"], float), np.asarray(h["EVENTS"].data["ENERGY"], float)
    with fits.open(out) as h:
        spec = h["SPECTRUM"]
        assert spec.header["HDUCLAS4"] == "TYPE:II" and spec.header["DETCHANS"] == 5
        assert spec.data["COUNTS"].shape == (4, 5) and spec.data["SPEC_NUM"].tolist() == [1, 2, 3, 4]
        np.testing.assert_array_equal(spec.data["TSTART"], [1000.0, 2000.0, 3000.0, 4000.0])
        ti = np.floor((t - 1000.0) / 1000.0).astype(int)
        ei = _reference.log_index(e, 100.0, 1e5, 5)
        want = np.zeros((4, 5), int)
        ok = (ti >= 0) & (ti < 4) & (ei >= 0)
        np.add.at(want, (ti[ok], ei[ok]), 1)
        np.testing.assert_array_equal(spec.data["COUNTS"], want)
        # livetime fraction 24/30 times the GTI time in each bin (GTI gap 2500..3000)
        np.testing.assert_allclose(spec.data["EXPOSURE"], np.array([1000.0, 500.0, 1000.0, 1000.0]) * 0.8)
        assert h["GTI"].header["EXPOSURE"] == pytest.approx(3500.0 * 0.8)
