"""gtbin: CMAP/CCUBE/LC/PHA1 products, EXPOSURE keyword, command line, and the real ccube_00."""

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from fermi_sciencetools_shim.bin.gtbin import count_error, gtbin, main
from fermi_sciencetools_shim.errors import InputFileError, ParameterError


def _write_ft1(path, ra, dec, energy, time, gti, dss=True):
    cols = [
        fits.Column("ENERGY", "E", array=np.asarray(energy, np.float32)),
        fits.Column("RA", "E", array=np.asarray(ra, np.float32)),
        fits.Column("DEC", "E", array=np.asarray(dec, np.float32)),
        fits.Column("TIME", "D", array=np.asarray(time, np.float64)),
    ]
    ev = fits.BinTableHDU.from_columns(cols, name="EVENTS")
    for key, value in [
        ("TELESCOP", "GLAST"),
        ("INSTRUME", "LAT"),
        ("TSTART", gti[0][0]),
        ("TSTOP", gti[-1][1]),
    ]:
        ev.header[key] = value
    if dss:
        ev.header["NDSKEYS"] = 2
        ev.header["DSTYP1"], ev.header["DSUNI1"], ev.header["DSVAL1"] = "ENERGY", "MeV", "100:100000"
        ev.header["DSTYP2"], ev.header["DSUNI2"], ev.header["DSVAL2"] = "TIME", "s", "TABLE"
        ev.header["DSREF2"] = ":GTI"
    ev.header.add_history("made by the test")
    g = np.array(gti, dtype=np.float64)
    gti_hdu = fits.BinTableHDU.from_columns(
        [fits.Column("START", "D", array=g[:, 0]), fits.Column("STOP", "D", array=g[:, 1])], name="GTI"
    )
    fits.HDUList([fits.PrimaryHDU(), ev, gti_hdu]).writeto(path)
    return path


@pytest.fixture
def ft1(tmp_path):
    rng = np.random.default_rng(5)
    n = 400
    ra = 83.6 + rng.normal(0.0, 2.0, n)
    dec = 22.0 + rng.normal(0.0, 2.0, n)
    energy = np.geomspace(100.0, 1e5, n)
    time = np.sort(rng.uniform(1000.0, 5000.0, n))
    return _write_ft1(
        tmp_path / "ft1.fits", ra, dec, energy, time, [(1000.0, 2000.0), (2000.0, 3000.0), (3500.0, 5000.0)]
    )


def _write_ft2(path, start, stop, livetime):
    cols = [
        fits.Column("START", "D", array=start),
        fits.Column("STOP", "D", array=stop),
        fits.Column("LIVETIME", "D", array=livetime),
    ]
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols, name="SC_DATA")]).writeto(path)
    return path


def test_ccube_sums_to_cmap_and_counts_events_inside(ft1, tmp_path):
    common = dict(nxpix=20, nypix=20, binsz=0.5, coordsys="CEL", xref=83.6, yref=22.0, proj="AIT")
    cube = gtbin(
        ft1, tmp_path / "cc.fits", "CCUBE", ebinalg="LOG", emin=100.0, emax=1e5, enumbins=6, **common
    )
    wide = gtbin(ft1, tmp_path / "w.fits", "CCUBE", ebinalg="LOG", emin=50.0, emax=2e5, enumbins=3, **common)
    cmap = gtbin(ft1, tmp_path / "cm.fits", "CMAP", **common)
    with fits.open(cube) as c, fits.open(cmap) as m, fits.open(wide) as w:
        assert c[0].data.shape == (6, 20, 20) and c[0].data.dtype.kind == "i"
        np.testing.assert_array_equal(w[0].data.sum(axis=0), m[0].data)
        assert [h.name for h in c] == ["PRIMARY", "EBOUNDS", "GTI"]
        assert [h.name for h in m] == ["PRIMARY", "GTI"]
        # the event at exactly emax = 1e5 MeV is not binned ([lo, hi) rule)
        with fits.open(ft1) as f:
            ra, dec, e = (f["EVENTS"].data[k].astype(float) for k in ("RA", "DEC", "ENERGY"))
        x, y = WCS(m[0].header).wcs_world2pix(ra, dec, 1)
        inside = (x >= 0.5) & (x < 20.5) & (y >= 0.5) & (y < 20.5)
        assert 0 < inside.sum() < inside.size
        assert c[0].data.sum() == np.sum(inside & (e < 1e5))
        assert m[0].data.sum() == np.sum(inside)
        np.testing.assert_allclose(c["EBOUNDS"].data["E_MIN"][0], 1e5, rtol=1e-7)  # keV
        assert c[0].header["NDSKEYS"] == 2 and c[0].header["DSREF2"] == ":GTI"
        assert c["GTI"].header["ONTIME"] == pytest.approx(3500.0)
        # no scfile: EXPOSURE is the ONTIME; touching GTIs were merged
        assert c["GTI"].header["EXPOSURE"] == pytest.approx(3500.0)
        np.testing.assert_array_equal(c["GTI"].data["START"], [1000.0, 3500.0])


def test_pixel_of_a_known_direction(ft1, tmp_path):
    # one event exactly at the map centre lands in the middle pixel (index n // 2 for odd n)
    path = _write_ft1(tmp_path / "one.fits", [10.0], [-30.0], [1000.0], [1500.0], [(1000.0, 2000.0)])
    out = gtbin(
        path,
        tmp_path / "o.fits",
        "CMAP",
        nxpix=5,
        nypix=3,
        binsz=1.0,
        coordsys="CEL",
        xref=10.0,
        yref=-30.0,
        proj="TAN",
    )
    with fits.open(out) as h:
        assert h[0].data.shape == (3, 5)
        assert h[0].data[1, 2] == 1 and h[0].data.sum() == 1
        assert h[0].header["CRPIX1"] == 3.0 and h[0].header["CDELT1"] == -1.0
        assert h[0].header["CTYPE1"] == "RA---TAN" and h[0].header["CTYPE2"] == "DEC--TAN"


def test_exposure_from_ft2_weights_rows_by_gti_overlap(ft1, tmp_path):
    start = np.arange(900.0, 5100.0, 30.0)
    stop = start + 30.0
    livetime = np.full(start.size, 27.0)
    ft2 = _write_ft2(tmp_path / "ft2.fits", start, stop, livetime)
    out = gtbin(
        ft1, tmp_path / "p.fits", "PHA1", scfile=str(ft2), ebinalg="LIN", emin=100.0, emax=1e5, denergy=1e4
    )
    expected = 0.0
    for s, e, lt in zip(start, stop, livetime, strict=True):
        ov = sum(max(0.0, min(e, b) - max(s, a)) for a, b in [(1000.0, 3000.0), (3500.0, 5000.0)])
        expected += lt * ov / (e - s)
    with fits.open(out) as h:
        assert h["GTI"].header["EXPOSURE"] == pytest.approx(expected, rel=1e-12)
        assert h["SPECTRUM"].header["EXPOSURE"] == pytest.approx(expected, rel=1e-12)
        spec = h["SPECTRUM"].data
        assert spec["COUNTS"].sum() == 399  # the 1e5 MeV event is at the upper edge
        assert h["SPECTRUM"].header["DETCHANS"] == 10
        np.testing.assert_allclose(spec["STAT_ERR"], count_error(spec["COUNTS"]), rtol=1e-6)
        assert [x.name for x in h] == ["PRIMARY", "SPECTRUM", "EBOUNDS", "GTI"]


def test_light_curve_counts_gti_and_errors(ft1, tmp_path):
    out = gtbin(ft1, tmp_path / "lc.fits", "LC", tbinalg="LIN", tstart=1000.0, tstop=4000.0, dtime=700.0)
    with fits.open(ft1) as f:
        t = f["EVENTS"].data["TIME"]
    with fits.open(out) as h:
        rate = h["RATE"].data
        assert rate["COUNTS"].sum() == np.sum((t >= 1000.0) & (t < 4000.0))
        np.testing.assert_allclose(rate["TIMEDEL"], [700, 700, 700, 700, 200])
        np.testing.assert_allclose(rate["TIME"][-1], 3900.0)
        n = rate["COUNTS"].astype(float)
        np.testing.assert_allclose(
            rate["ERROR"], np.where(n <= 10, 1 + np.sqrt(n + 0.75), np.sqrt(n)), rtol=1e-6
        )
        # GTI clipped to the bin coverage; TSTART/TSTOP tightened
        np.testing.assert_array_equal(h["GTI"].data["STOP"], [3000.0, 4000.0])
        assert h["RATE"].header["TSTOP"] == 4000.0


def test_count_error_formula():
    np.testing.assert_allclose(
        count_error(np.array([0, 10, 11, 100])), [1 + np.sqrt(0.75), 1 + np.sqrt(10.75), np.sqrt(11), 10]
    )


def test_errors_name_parameter_or_file(ft1, tmp_path, capsys):
    with pytest.raises(ParameterError, match="nxpix"):
        gtbin(ft1, tmp_path / "x.fits", "CMAP", nypix=3, binsz=1.0, xref=0.0, yref=0.0)
    with pytest.raises(ParameterError, match="hpx_order"):
        gtbin(ft1, tmp_path / "x.fits", "HEALPIX", hpx_order=13)
    with pytest.raises(InputFileError, match=r"missing\.fits"):
        gtbin(str(tmp_path / "missing.fits"), tmp_path / "x.fits", "PHA1")
    assert not (tmp_path / "x.fits").exists()
    assert (
        main(
            [
                f"evfile={ft1}",
                f"outfile={tmp_path / 'x.fits'}",
                "algorithm=CMAP",
                "proj=QQQ",
                "nxpix=3",
                "nypix=3",
                "binsz=1",
                "xref=0",
                "yref=0",
            ]
        )
        == 1
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gtbin: error: parameter 'proj'")


def test_help(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: gtbin") and "ebinalg" in out and "galrot" in out


@pytest.mark.requires_data
def test_ccube_00_reproduced_pixel_for_pixel(shared_data, tmp_path):
    """The out.log command line on ft1_00.fits gives ccube_00.fits (its FT2 is not in the data)."""
    folder = shared_data / "gammapy_tests_fermi"
    log = (folder / "out.log").read_text()
    line = next(x for x in log.splitlines() if "time -p gtbin " in x)
    args = line.split("time -p gtbin ", 1)[1].split()
    out = tmp_path / "ccube_00.fits"
    replaced = []
    for a in args:
        name = a.split("=", 1)[0]
        if name == "evfile":
            a = f"evfile={folder / 'ft1_00.fits'}"
        elif name == "scfile":  # /Users/.../L241227055331F357373F47_SC00.fits is not available
            a = "scfile=NONE"
        elif name == "outfile":
            a = f"outfile={out}"
        replaced.append(a)
    assert main(replaced) == 0
    with fits.open(out) as mine, fits.open(folder / "ccube_00.fits") as ref:
        assert mine[0].data.dtype == ref[0].data.dtype
        np.testing.assert_array_equal(mine[0].data, ref[0].data)
        assert ref[0].data.sum() == 12
        for name in ("E_MIN", "E_MAX", "CHANNEL"):
            np.testing.assert_array_equal(mine["EBOUNDS"].data[name], ref["EBOUNDS"].data[name])
        np.testing.assert_array_equal(mine["GTI"].data["START"], ref["GTI"].data["START"])
        np.testing.assert_array_equal(mine["GTI"].data["STOP"], ref["GTI"].data["STOP"])
        # without the FT2, EXPOSURE is the GTI ONTIME (the real one, 387754663.244226 s, is livetime)
        with fits.open(folder / "ft1_00.fits") as f1:
            ontime = f1["GTI"].header["ONTIME"]
        assert mine["GTI"].header["EXPOSURE"] == pytest.approx(ontime, rel=1e-9)
        assert ref["GTI"].header["EXPOSURE"] < ontime
        for key in ("CTYPE1", "CTYPE2", "CTYPE3", "CUNIT3", "NDSKEYS", "DATE-OBS", "DATE-END"):
            assert mine[0].header[key] == ref[0].header[key]
        for key in ("CRPIX1", "CRVAL1", "CDELT1", "CRVAL2", "CRVAL3", "CDELT3"):
            assert mine[0].header[key] == pytest.approx(ref[0].header[key], rel=1e-13)
        for k in range(1, 7):
            for stem in ("DSTYP", "DSUNI", "DSVAL"):
                assert mine[0].header[f"{stem}{k}"] == ref[0].header[f"{stem}{k}"]
        # keyword names in the real order (ONTIME is an addition in our GTI header)
        for hdu in ("PRIMARY", "EBOUNDS", "GTI"):
            skip = {"CHECKSUM", "DATASUM", "HISTORY", "COMMENT", "", "EXTVER", "ONTIME"}
            ref_keys = [k for k in ref[hdu].header if k not in skip]
            my_keys = [k for k in mine[hdu].header if k not in skip]
            # TUNITn sit at the end in the real template, next to their TTYPE in astropy's
            ref_keys = [k for k in ref_keys if not k.startswith("TUNIT")]
            my_keys = [k for k in my_keys if not k.startswith("TUNIT")]
            assert my_keys == ref_keys, hdu


def test_event_list_is_concatenated_and_gtis_united(tmp_path):
    a = _write_ft1(tmp_path / "a.fits", [10.0], [0.0], [200.0], [1500.0], [(1000.0, 2000.0)])
    b = _write_ft1(
        tmp_path / "b.fits", [10.5, 11.0], [0.0, 0.5], [300.0, 5e4], [2500.0, 2600.0], [(2000.0, 3000.0)]
    )
    listing = tmp_path / "events.lis"
    listing.write_text(f"{a}\n{b}\n")
    out = gtbin(
        f"@{listing}", tmp_path / "pha.fits", "PHA1", efield="energy", emin=100.0, emax=1e5, enumbins=3
    )
    with fits.open(out) as h:
        assert h["SPECTRUM"].data["COUNTS"].tolist() == [2, 0, 1]
        # touching intervals of the two files merge into one (evtbin union)
        assert h["GTI"].data["START"].tolist() == [1000.0] and h["GTI"].data["STOP"].tolist() == [3000.0]
    no_gti = tmp_path / "nogti.fits"
    with fits.open(a) as h:
        fits.HDUList([h[0].copy(), h["EVENTS"].copy()]).writeto(no_gti)
    with pytest.raises(InputFileError, match=r"nogti\.fits.*no GTI extension"):
        gtbin(str(no_gti), tmp_path / "x.fits", "PHA1", enumbins=3)
    with pytest.raises(InputFileError, match=r"a\.fits.*no column FLUX"):
        gtbin(str(a), tmp_path / "x.fits", "PHA1", efield="FLUX", enumbins=3)
