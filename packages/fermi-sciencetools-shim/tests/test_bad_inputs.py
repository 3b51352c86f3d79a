"""Bad inputs: each refused by the command with ONE line naming the file (or parameter) and the reason.

No traceback, exit code 1, no output file. The cases are those of issue 15 (float
EVENT_CLASS, non-FITS / empty / truncated files, a missing output folder, a filter of
thousands of nested terms, absurd sizes, an FT2 that does not cover the events, FT2 rows
with a repeated START, a negative LIVETIME or a NaN pointing).
"""

import numpy as np
import pytest
from astropy.io import fits

from fermi_sciencetools_shim.bin.gtbin import main as gtbin_main
from fermi_sciencetools_shim.io.limits import ENV_VAR, check_allocation, parse_size
from fermi_sciencetools_shim.ltcube.gtltcube import main as gtltcube_main
from fermi_sciencetools_shim.mktime.filter_expr import parse_filter
from fermi_sciencetools_shim.mktime.gtmktime import main as gtmktime_main
from fermi_sciencetools_shim.select.gtselect import main as gtselect_main

T0 = 1e8


def _ft1(path, event_class=None, times=(T0 + 100.0, T0 + 900.0)):
    n = len(times)
    cols = [
        fits.Column("ENERGY", "E", array=np.full(n, 1000.0, np.float32)),
        fits.Column("RA", "E", array=np.full(n, 83.6, np.float32)),
        fits.Column("DEC", "E", array=np.full(n, 22.0, np.float32)),
        fits.Column("L", "E", array=np.full(n, 184.5, np.float32)),
        fits.Column("B", "E", array=np.full(n, -5.8, np.float32)),
        fits.Column("TIME", "D", array=np.asarray(times, np.float64)),
        fits.Column("ZENITH_ANGLE", "E", array=np.full(n, 50.0, np.float32)),
    ]
    if event_class is not None:
        cols.append(fits.Column("EVENT_CLASS", "E", array=np.full(n, event_class, np.float32)))
    ev = fits.BinTableHDU.from_columns(cols, name="EVENTS")
    ev.header["TSTART"], ev.header["TSTOP"], ev.header["PASS_VER"] = T0, T0 + 1000.0, "P8R2"
    gti = fits.BinTableHDU.from_columns(
        [fits.Column("START", "D", array=[T0]), fits.Column("STOP", "D", array=[T0 + 1000.0])], name="GTI"
    )
    fits.HDUList([fits.PrimaryHDU(), ev, gti]).writeto(path)
    return path


def _ft2(path, start=None, livetime=None, ra_scz=None):
    start = np.arange(T0, T0 + 1200.0, 30.0) if start is None else np.asarray(start, np.float64)
    n = start.size
    cols = [
        fits.Column("START", "D", array=start),
        fits.Column("STOP", "D", array=start + 30.0),
        fits.Column("LIVETIME", "D", array=np.full(n, 25.0) if livetime is None else livetime),
        fits.Column("RA_SCZ", "E", array=np.linspace(0.0, 90.0, n) if ra_scz is None else ra_scz),
        fits.Column("DEC_SCZ", "E", array=np.full(n, 20.0)),
        fits.Column("RA_ZENITH", "E", array=np.linspace(30.0, 120.0, n)),
        fits.Column("DEC_ZENITH", "E", array=np.zeros(n)),
        fits.Column("DATA_QUAL", "I", array=np.ones(n, np.int16)),
        fits.Column("LAT_CONFIG", "B", array=np.ones(n, np.uint8)),
    ]
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols, name="SC_DATA")]).writeto(path)
    return path


def _truncated(src, dst, keep=None):
    data = src.read_bytes()
    dst.write_bytes(data[: len(data) - 2880 - 100 if keep is None else keep])
    return dst


def _case(name, tmp_path):
    """Return (main, argv, text expected in the error line, output path) for a bad-input case."""
    ft1 = _ft1(tmp_path / "ft1.fits")
    ft2 = _ft2(tmp_path / "ft2.fits")
    out = tmp_path / "out.fits"
    mk = ["filter=DATA_QUAL>0", "roicut=no", f"scfile={ft2}", f"outfile={out}"]
    cmap = ["algorithm=CMAP", "nxpix=10", "nypix=10", "binsz=1", "xref=83.6", "yref=22", f"outfile={out}"]
    lt = [f"evfile={ft1}", f"outfile={out}", "binsz=30", "dcostheta=0.5"]
    if name == "float_event_class":
        bad = _ft1(tmp_path / "floatclass.fits", event_class=128.0)
        return (
            gtselect_main,
            [f"infile={bad}", f"outfile={out}", "evclass=128"],
            "floatclass.fits: EVENTS column EVENT_CLASS is floating-point",
            out,
        )
    if name == "mktime_not_fits":
        bad = tmp_path / "notes.fits"
        bad.write_text("these are not FITS data\n")
        return gtmktime_main, [*mk, f"evfile={bad}"], "notes.fits: not a FITS file", out
    if name == "mktime_empty":
        bad = tmp_path / "empty.fits"
        bad.write_bytes(b"")
        return gtmktime_main, [*mk, f"evfile={bad}"], "empty.fits: file is empty", out
    if name == "mktime_truncated":
        bad = _truncated(ft1, tmp_path / "cut.fits")
        return gtmktime_main, [*mk, f"evfile={bad}"], "cut.fits: truncated or damaged: its size", out
    if name == "gtbin_truncated":
        bad = _truncated(ft1, tmp_path / "cut.fits", keep=2880 * 2 + 500)  # inside the EVENTS data
        return gtbin_main, [f"evfile={bad}", *cmap], "cut.fits: truncated: HDU 1 (EVENTS) needs bytes", out
    if name == "outfile_missing_folder":
        missing = tmp_path / "no" / "such" / "out.fits"
        argv = [f"evfile={ft1}", *cmap[:-1], f"outfile={missing}"]
        return gtbin_main, argv, "folder", missing
    if name == "nested_filter":
        expression = "(" * 3000 + "DATA_QUAL>0" + ")" * 3000
        return gtmktime_main, [*mk[1:], f"filter={expression}", f"evfile={ft1}"], "nested more than", out
    if name == "absurd_size":
        argv = [f"evfile={ft1}", *cmap[:1], "nxpix=200000", "nypix=200000", *cmap[3:]]
        return gtbin_main, argv, "200000 x 200000 x 1 pixels needs", out
    if name == "ltcube_not_covered":
        late = _ft2(tmp_path / "late.fits", start=np.arange(T0 + 5000.0, T0 + 6200.0, 30.0))
        return gtltcube_main, [f"scfile={late}", *lt], "late.fits: spacecraft data cover MET", out
    if name == "ft2_repeated_start":
        start = np.arange(T0, T0 + 1200.0, 30.0)
        start[5] = start[4]
        bad = _ft2(tmp_path / "rep.fits", start=start)
        return gtltcube_main, [f"scfile={bad}", *lt], "rep.fits: SC_DATA row 6: START", out
    if name == "ft2_negative_livetime":
        livetime = np.full(40, 25.0)
        livetime[7] = -3.0
        bad = _ft2(tmp_path / "neg.fits", livetime=livetime)
        return gtltcube_main, [f"scfile={bad}", *lt], "neg.fits: SC_DATA row 8: LIVETIME", out
    if name == "ft2_nan_pointing":
        ra = np.linspace(0.0, 90.0, 40)
        ra[3] = np.nan
        bad = _ft2(tmp_path / "nan.fits", ra_scz=ra)
        return gtltcube_main, [f"scfile={bad}", *lt], "nan.fits: SC_DATA row 4: RA_SCZ is nan", out
    raise AssertionError(name)


CASES = [
    "float_event_class",
    "mktime_not_fits",
    "mktime_empty",
    "mktime_truncated",
    "gtbin_truncated",
    "outfile_missing_folder",
    "nested_filter",
    "absurd_size",
    "ltcube_not_covered",
    "ft2_repeated_start",
    "ft2_negative_livetime",
    "ft2_nan_pointing",
]


@pytest.mark.parametrize("name", CASES)
def test_bad_input_is_one_line_without_output(name, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(ENV_VAR, "1G")
    main, argv, expected, out = _case(name, tmp_path)
    capsys.readouterr()
    assert main(argv) == 1
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert expected in lines[0], lines[0]
    assert not out.exists()
    assert not any(p.name.startswith(".out.fits") for p in tmp_path.iterdir())


def test_long_flat_filter_chain_is_evaluated(tmp_path):
    """Thousands of terms in a row (a left-deep tree) are evaluated without recursion."""
    expression = " && ".join(["DATA_QUAL>0"] * 5000)
    mask = parse_filter(expression).evaluate({"DATA_QUAL": np.array([1, 0, 1])}, 3)
    assert mask.tolist() == [True, False, True]


def test_memory_budget_is_configurable(monkeypatch):
    assert parse_size("512M") == 512 << 20 and parse_size("1.5G") == 3 << 29 and parse_size("1000") == 1000
    monkeypatch.setenv(ENV_VAR, "1M")
    with pytest.raises(ValueError, match=r"needs 2\.0 MiB, more than the memory budget of 1\.0 MiB"):
        check_allocation(2 << 20, "the thing", "nxpix")
    check_allocation(1 << 19, "the thing", "nxpix")
    monkeypatch.setenv(ENV_VAR, "lots")
    with pytest.raises(ValueError, match=ENV_VAR):
        check_allocation(1, "the thing", "nxpix")
