"""gtselect on real Fermi LAT FT1 files: re-selection no-ops, tighter cuts, old formats, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from fermi_sciencetools_shim.select.gtselect import gtselect, main
from fermi_sciencetools_shim.time import date_obs

pytestmark = pytest.mark.requires_data

OUT_LOG_FILTER = (
    "((EVENT_CLASS&o4000) != o0) && angsep(RA,DEC,83.6324,22.0174) < 1 && ((EVENT_TYPE&o4) != o0) "
    "&& 398107.17055349692237 < ENERGY && ENERGY <= 2511886.4315095823258 && 239557417 < TIME "
    "&& TIME <= 752112005 && 0 < ZENITH_ANGLE && ZENITH_ANGLE <= 105 && gtifilter()"
)
# The out.log command line (fermipy, component 00).
OUT_LOG_PARS = dict(
    ra=83.6324, dec=22.01740000000001, rad=1.9142135623730951, tmin=239557417.0, tmax=752112005.0,
    emin=398107.1705534969, emax=2511886.4315095823, zmin=0.0, zmax=105.0, evclass=2048, evtype=4,
)  # fmt: skip
P8V2_OWN = dict(ra=83.6331, dec=22.0145, rad=15, emin=200, emax=20000, zmax=90, evclass=128, evtype=3)


def dss(path: Path) -> list[tuple]:
    h = fits.getheader(path, "EVENTS")
    return [
        (h[f"DSTYP{k}"], h[f"DSUNI{k}"], h[f"DSVAL{k}"], h.get(f"DSREF{k}"))
        for k in range(1, h["NDSKEYS"] + 1)
    ]


def filter_history(path: Path) -> str:
    """The text of the last 'Filter string:' HISTORY record (card images, 72 columns each)."""
    cards = [c.image[8:] for c in fits.getheader(path, "EVENTS").cards if c.keyword == "HISTORY"]
    start = max(i for i, c in enumerate(cards) if c.startswith("Filter string:"))
    text = cards[start]
    for card in cards[start + 1 :]:
        if card.startswith(("CFITSIO", "Filter string:")):
            break
        text += card
    return text.rstrip()


def same_events(a: Path, b: Path) -> None:
    with fits.open(a) as fa, fits.open(b) as fb:
        assert fa["EVENTS"].columns.names == fb["EVENTS"].columns.names
        assert [c.format for c in fa["EVENTS"].columns] == [c.format for c in fb["EVENTS"].columns]
        assert len(fa["EVENTS"].data) == len(fb["EVENTS"].data)
        for name in fa["EVENTS"].columns.names:
            np.testing.assert_array_equal(fa["EVENTS"].data[name], fb["EVENTS"].data[name], err_msg=name)
        for name in ("START", "STOP"):
            np.testing.assert_array_equal(fa["GTI"].data[name], fb["GTI"].data[name])


def angsep(ra, dec, ra0, dec0):
    ra, dec, ra0, dec0 = (np.radians(np.asarray(x, dtype=np.float64)) for x in (ra, dec, ra0, dec0))
    cos = np.sin(dec) * np.sin(dec0) + np.cos(dec) * np.cos(dec0) * np.cos(ra - ra0)
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def test_out_log_command_on_ft1_00_is_a_no_op(shared_data, tmp_path, capsys):
    src = shared_data / "gammapy_tests_fermi" / "ft1_00.fits"
    out = tmp_path / "ft1_00_again.fits"
    result = gtselect(src, out, **OUT_LOG_PARS)
    assert capsys.readouterr().out.splitlines()[0] == f"Applying filter string: {OUT_LOG_FILTER}"
    assert result.filter_string == OUT_LOG_FILTER
    assert result.n_events == 12 and len(result.gti) == 89705
    same_events(src, out)
    # Same DSS entries; as in the ScienceTools (Cuts::mergeGtis) the TIME/TABLE entry
    # moves after the file's other non-range cuts.
    original = dss(src)
    assert dss(out) == [original[i] for i in (0, 1, 3, 2, 4, 5)]
    assert filter_history(out) == f"Filter string: {OUT_LOG_FILTER}"
    for hdu in range(3):
        h_in, h_out = fits.getheader(src, hdu), fits.getheader(out, hdu)
        for key in ("TSTART", "TSTOP", "DATE-OBS", "DATE-END"):
            assert h_out[key] == h_in[key], (hdu, key)
    assert fits.getheader(out, "GTI")["ONTIME"] == pytest.approx(426196949.149698, abs=1e-6)
    # Once written in gtselect's order, re-selection is a no-op keyword for keyword.
    again = tmp_path / "third.fits"
    gtselect(out, again, **OUT_LOG_PARS)
    same_events(out, again)
    assert dss(again) == dss(out)


def test_pint_file_reselected_with_its_own_cuts_keeps_dss_exactly(shared_data, tmp_path):
    src = shared_data / "pint" / "J0030+0451_w323_ft1weights.fits"
    out = tmp_path / "pint.fits"
    result = gtselect(
        src, out, ra=7.61428534, dec=4.861029436, rad=2, emin=100, emax=100000, zmax=90, evclass=128, evtype=3
    )
    assert result.n_events == 27 and len(result.gti) == 39098
    same_events(src, out)  # includes the user columns PULSE_PHASE, weights ...
    assert dss(out) == dss(src)


def test_gammalib_p8v2_reselected_with_its_own_cuts(shared_data, tmp_path):
    src = shared_data / "gammalib_p8v2" / "ft1.fits.gz"
    out = tmp_path / "p8v2.fits"
    result = gtselect(src, out, **P8V2_OWN)
    assert result.n_events == 1507 and len(result.gti) == 15
    same_events(src, out)
    assert sorted(dss(out)) == sorted(dss(src))
    assert result.filter_string == filter_history(src).removeprefix("Filter string: ")


def test_tighter_cut_selects_exactly_the_numpy_events(shared_data, tmp_path):
    src = shared_data / "gammalib_p8v2" / "ft1.fits.gz"
    out = tmp_path / "tight.fits"
    result = gtselect(src, out, **{**P8V2_OWN, "rad": 5.0, "emin": 1000.0, "ra": 83.0, "dec": 21.5})
    with fits.open(src) as f:
        d = f["EVENTS"].data
        energy = d["ENERGY"].astype(np.float64)
        want = (
            (angsep(d["RA"], d["DEC"], 83.0, 21.5) < 5.0)
            & (angsep(d["RA"], d["DEC"], 83.6331, 22.0145) < 15.0)
            & (energy > 1000.0)
            & (energy <= 20000.0)
            & (d["ZENITH_ANGLE"].astype(np.float64) > 0)
            & (d["ZENITH_ANGLE"].astype(np.float64) <= 90)
        )
        want_ids = d["EVENT_ID"][want]
    with fits.open(out) as f:
        np.testing.assert_array_equal(f["EVENTS"].data["EVENT_ID"], want_ids)
    assert 0 < result.n_events == int(want.sum()) < 1507
    # The new cone lies inside the file's 15 deg cone: it replaces it (one POS key).
    assert [k for k in dss(out) if k[0] == "POS(RA,DEC)"] == [
        ("POS(RA,DEC)", "deg", "CIRCLE(83,21.5,5)", None)
    ]
    assert ("ENERGY", "MeV", "1000:20000", None) in dss(out)


def test_time_cut_clips_the_gti_and_rewrites_the_dates(shared_data, tmp_path):
    src = shared_data / "gammalib_p8v2" / "ft1.fits.gz"
    out = tmp_path / "half.fits"
    tmin, tmax = 239580000.0, 239620000.0
    result = gtselect(src, out, tmin=tmin, tmax=tmax, emin=0, emax=0)
    assert result.gti.tmin >= tmin and result.gti.tmax <= tmax
    with fits.open(out) as f:
        t = f["EVENTS"].data["TIME"]
        assert np.all((t > tmin) & (t <= tmax))
        for hdu in f[:3]:
            assert (hdu.header["TSTART"], hdu.header["TSTOP"]) == (tmin, tmax)
            assert hdu.header["DATE-OBS"] == date_obs(tmin)
        assert f["GTI"].header["ONTIME"] == pytest.approx(result.gti.ontime)
        assert f["GTI"].header["TELAPSE"] == tmax - tmin
    assert all(k[0] != "TIME" or k[2] == "TABLE" for k in dss(out))


def test_several_files_are_concatenated_with_the_union_of_their_gtis(shared_data, tmp_path):
    src = shared_data / "gammalib_p8v2" / "ft1.fits.gz"
    first, second = tmp_path / "a.fits", tmp_path / "b.fits"
    gtselect(src, first, tmax=239600000.0, tmin=239557417.5, emin=0, emax=0)
    gtselect(src, second, tmin=239600000.0, tmax=239643817.5, emin=0, emax=0)
    listing = tmp_path / "list.txt"
    listing.write_text(f"{first}\n{second}\n")
    out = tmp_path / "both.fits"
    result = gtselect(f"@{listing}", out, emin=0, emax=0)
    with fits.open(src) as f, fits.open(out) as g:
        np.testing.assert_array_equal(g["EVENTS"].data["EVENT_ID"], f["EVENTS"].data["EVENT_ID"])
        assert g["EVENTS"].header["TSTART"] == 239557417.5
        assert g["EVENTS"].header["TSTOP"] == 239643817.5
    assert result.gti.ontime == pytest.approx(63395.6504765749, abs=1e-6)


def test_files_with_different_cuts_are_refused(shared_data, tmp_path, capsys):
    listing = tmp_path / "list.txt"
    folder = shared_data / "gammapy_tests_fermi"
    listing.write_text(f"{folder / 'ft1_00.fits'}\n{folder / 'ft1_01.fits'}\n")
    out = tmp_path / "out.fits"
    assert main([f"infile=@{listing}", f"outfile={out}"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "do not match" in err[0] and "ft1_01.fits" in err[0]
    assert not out.exists()


def test_pass7_integer_event_class(shared_data, tmp_path):
    src = shared_data / "gammalib_p7v6" / "ft1.fits.gz"
    out = tmp_path / "p7.fits"
    result = gtselect(src, out, evclass=2, ra=83.6331, dec=22.0145, rad=3, emin=100, emax=10000, zmax=100)
    assert result.filter_string.startswith("((EVENT_CLASS/4)%2 == 1) && angsep(RA,DEC,83.6331,22.0145) < 3")
    with fits.open(src) as f:
        d = f["EVENTS"].data
        want = (
            (angsep(d["RA"], d["DEC"], 83.6331, 22.0145) < 3) & (d["ENERGY"] > 100) & (d["ZENITH_ANGLE"] > 0)
        )
        want &= (d["EVENT_CLASS"] // 4) % 2 == 1
    assert result.n_events == int(want.sum()) > 0
    keys = dss(out)
    assert keys[0] == ("BIT_MASK(EVENT_CLASS,2)", "DIMENSIONLESS", "1:1", None)
    assert ("POS(RA,DEC)", "deg", "CIRCLE(83.6331,22.0145,3)", None) in keys
    with fits.open(out) as f:
        assert f["EVENTS"].columns["EVENT_CLASS"].format == "J"


def test_zero_events_is_a_valid_output(shared_data, tmp_path):
    out = tmp_path / "none.fits"
    result = gtselect(shared_data / "gammalib_p8v2" / "ft1.fits.gz", out, emin=1e7, emax=2e7)
    assert result.n_events == 0
    with fits.open(out) as f:
        assert len(f["EVENTS"].data) == 0 and len(f["GTI"].data) == 15


def test_missing_pass_ver_is_one_clear_error_and_no_output(shared_data, tmp_path, capsys):
    broken = tmp_path / "nopass.fits"
    with fits.open(shared_data / "gammapy_tests_fermi" / "ft1_00.fits") as f:
        del f["EVENTS"].header["PASS_VER"]
        f.writeto(broken)
    out = tmp_path / "out.fits"
    assert main([f"infile={broken}", f"outfile={out}"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"gtselect: error: {broken}: EVENTS header has no PASS_VER keyword (pass version unknown)"]
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["nopass.fits"]


def test_missing_file_and_min_above_max(shared_data, tmp_path, capsys):
    out = tmp_path / "out.fits"
    assert main([f"infile={tmp_path / 'nope.fits'}", f"outfile={out}"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope.fits" in err[0] and "no such file" in err[0]
    src = shared_data / "gammalib_p8v2" / "ft1.fits.gz"
    assert main([f"infile={src}", f"outfile={out}", "emin=1000", "emax=100"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["gtselect: error: parameter 'emin': minimum 1000.0 is greater than emax 100.0"]
    assert list(tmp_path.iterdir()) == []


def test_command_line_runs_in_process(shared_data, tmp_path, capsys):
    out = tmp_path / "cli.fits"
    src = shared_data / "gammalib_p8v2" / "ft1.fits.gz"
    assert main([str(src), str(out), "83.6331", "22.0145", "2", "INDEF", "INDEF", "100", "300000", "90"]) == 0
    assert "angsep(RA,DEC,83.6331,22.0145) < 2" in capsys.readouterr().out
    assert fits.getval(out, "NDSKEYS", "EVENTS") == 6
    assert main(["--help"]) == 0
    assert "evclass" in capsys.readouterr().out
    out.write_bytes(b"keep")
    assert main([f"infile={src}", f"outfile={out}", "clobber=no"]) == 1
    assert out.read_bytes() == b"keep"
