"""gtmktime on real LAT data: GTIs recomputed from the FT2 equal the files' GTIs exactly."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from fermi_sciencetools_shim.errors import InputFileError, ParameterError
from fermi_sciencetools_shim.io import read_dss, read_events, read_ft2, read_gti
from fermi_sciencetools_shim.mktime import ft2_gti, gtmktime, main, parse_filter
from fermi_sciencetools_shim.mktime.gtmktime import roi_zenith_cut

RECOMMENDED = "DATA_QUAL>0 && LAT_CONFIG==1"
P8_FT1 = "gammalib_p8v2/ft1.fits.gz"
P8_FT2 = "gammalib_p8v2/ft2.fits.gz"
W323_FT2 = "pint/lat_spacecraft_weekly_w323_p202_v001.fits"
W323_FT1 = "pint/J0030+0451_w323_ft1weights.fits"


@pytest.mark.requires_data
def test_gammalib_p8v2_gti_bit_for_bit(shared_data, tmp_path):
    out = tmp_path / "mktime.fits"
    result = gtmktime(shared_data / P8_FT2, RECOMMENDED, False, shared_data / P8_FT1, out)
    expected = read_gti(shared_data / P8_FT1)
    assert len(result.gti) == 15
    np.testing.assert_array_equal(result.gti.start, expected.start)
    np.testing.assert_array_equal(result.gti.stop, expected.stop)
    assert result.gti.ontime == 63395.6504765749
    with fits.open(out) as new, fits.open(shared_data / P8_FT1) as old:
        assert new["GTI"].header["ONTIME"] == 63395.6504765749
        np.testing.assert_array_equal(new["GTI"].data["START"], old["GTI"].data["START"])
        assert new[0].header["FILENAME"] == "mktime.fits"
        for key in ("TSTART", "TSTOP", "DATE-OBS", "PASS_VER"):
            assert new["EVENTS"].header[key] == old["EVENTS"].header[key]
        assert read_dss(new["EVENTS"].header) == read_dss(old["EVENTS"].header)
        assert new["EVENTS"].columns.formats == old["EVENTS"].columns.formats
        assert len(new["EVENTS"].data) == 1507  # all events were already inside these GTIs
        np.testing.assert_array_equal(new["EVENTS"].data["EVENT_CLASS"], old["EVENTS"].data["EVENT_CLASS"])


@pytest.mark.requires_data
def test_pint_week_323_gtis_equal_merged_ft2_rows(shared_data):
    ft2 = read_ft2(shared_data / W323_FT2, columns=["START", "STOP", "DATA_QUAL", "LAT_CONFIG"])
    mask = parse_filter(RECOMMENDED).evaluate(ft2, ft2["START"].size)
    week = ft2_gti(ft2["START"], ft2["STOP"], mask, ft2["START"][0], ft2["STOP"][-1])
    ft1 = read_gti(shared_data / W323_FT1)
    inside = (ft1.start >= ft2["START"][0]) & (ft1.stop <= ft2["STOP"][-1])
    assert inside.sum() == 106
    assert len(week) == 106
    np.testing.assert_array_equal(week.start, ft1.start[inside])
    np.testing.assert_array_equal(week.stop, ft1.stop[inside])
    # the rock-angle cut of the par-file default would give 278 intervals: it was not used
    with_rock = parse_filter(RECOMMENDED + " && ABS(ROCK_ANGLE)<52")
    cols = read_ft2(
        shared_data / W323_FT2, columns=["START", "STOP", "DATA_QUAL", "LAT_CONFIG", "ROCK_ANGLE"]
    )
    rock = ft2_gti(cols["START"], cols["STOP"], with_rock.evaluate(cols, cols["START"].size), 0.0, 1e10)
    assert len(rock) == 278


@pytest.mark.requires_data
def test_events_kept_are_exactly_those_inside_the_new_gti(shared_data, tmp_path):
    out = tmp_path / "cut.fits"
    text = RECOMMENDED + " && (START < 239580000 || START > 239600000)"
    result = gtmktime(shared_data / P8_FT2, text, False, shared_data / P8_FT1, out)
    events, _ = read_events(shared_data / P8_FT1, columns=["TIME", "EVENT_ID"])
    t = events["TIME"]
    inside = np.zeros(t.size, dtype=bool)
    for s, e in zip(result.gti.start, result.gti.stop, strict=True):
        inside |= (t >= s) & (t <= e)
    assert 0 < inside.sum() < t.size
    kept, header = read_events(out, columns=["TIME", "EVENT_ID"])
    np.testing.assert_array_equal(kept["EVENT_ID"], events["EVENT_ID"][inside])
    assert result.n_events_out == inside.sum()
    assert read_gti(out).ontime == pytest.approx(result.gti.ontime, rel=0, abs=0)
    # FT2 rows start every 30 s: nothing of [239580030, 239600000] may remain
    assert result.gti.overlap(np.array([239580030.0]), np.array([239600000.0]))[0] == 0.0
    assert result.gti.ontime < 63395.6504765749
    assert header["NAXIS2"] == inside.sum()


@pytest.mark.requires_data
def test_roicut_and_overwrite(shared_data, tmp_path):
    header = fits.getheader(shared_data / P8_FT1, "EVENTS")
    assert roi_zenith_cut(header) == " && angsep(RA_ZENITH,DEC_ZENITH,83.6331,22.0145) < 75"
    result = gtmktime(shared_data / P8_FT2, RECOMMENDED, True, shared_data / P8_FT1, tmp_path / "roi.fits")
    assert result.filter.endswith("< 75")
    assert result.gti.ontime <= 63395.6504765749
    window = (239560000.0, 239570000.0)
    over = gtmktime(
        shared_data / P8_FT2,
        RECOMMENDED,
        False,
        shared_data / P8_FT1,
        tmp_path / "over.fits",
        overwrite=True,
        header_obstimes=False,
        tstart=window[0],
        tstop=window[1],
    )
    assert over.gti.tmin >= window[0] and over.gti.tmax <= window[1]
    assert len(over.gti) > 0


@pytest.mark.requires_data
def test_main_in_process_and_list_file(shared_data, tmp_path, capsys):
    listing = tmp_path / "ft2.lst"
    listing.write_text(f"{shared_data / P8_FT2}\n")
    out = tmp_path / "m.fits"
    code = main(
        [
            f"scfile=@{listing}",
            f"filter={RECOMMENDED}",
            "roicut=no",
            f"evfile={shared_data / P8_FT1}",
            f"outfile={out}",
        ]
    )
    assert code == 0
    assert "15 GTIs" in capsys.readouterr().out
    assert read_gti(out).ontime == 63395.6504765749
    assert main(["--help"]) == 0
    assert "scfile" in capsys.readouterr().out


@pytest.mark.requires_data
@pytest.mark.parametrize(
    "scfile, filter_text, evfile, message",
    [
        (P8_FT2, RECOMMENDED, "nope.fits", "nope.fits: no such file"),
        ("nope2.fits", RECOMMENDED, P8_FT1, "nope2.fits: no such file"),
        (
            P8_FT2,
            "DATA_QUAL>0 &&& LAT_CONFIG==1",
            P8_FT1,
            "parameter 'filter': expected a value, found '&' at position 15",
        ),
        (P8_FT2, "DATA_QUAL>0 && LAT_CONFG==1", P8_FT1, "unknown column 'LAT_CONFG'"),
        (W323_FT2, RECOMMENDED, P8_FT1, "spacecraft data cover MET 429066902"),
        ("ft2util/ft2_example.fits", RECOMMENDED, P8_FT1, "zero rows of SC_DATA pass the filter"),
    ],
)
def test_errors_are_one_line_and_leave_no_output(
    shared_data, tmp_path, capsys, scfile, filter_text, evfile, message
):
    out = tmp_path / "out.fits"
    argv = [
        f"scfile={shared_data / scfile}",
        f"filter={filter_text}",
        "roicut=no",
        f"evfile={shared_data / evfile}",
        f"outfile={out}",
    ]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("gtmktime: error: ") and err.count("\n") == 1
    assert message in err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_python_errors(tmp_path):
    with pytest.raises(InputFileError, match="evfile"):
        gtmktime(tmp_path / "a.fits", RECOMMENDED, False, tmp_path / "b.fits", tmp_path / "c.fits")
    with pytest.raises(ParameterError, match="outfile"):
        main_pars = dict(scfile="x", filter=RECOMMENDED, roicut=False, evfile=__file__, outfile=__file__)
        gtmktime(**main_pars)


@pytest.mark.requires_data
def test_gti_extension_keeps_the_template_cards(shared_data, tmp_path):
    """The rewritten GTI header has the input's cards in the same order, TUNIT 's' included."""
    d = shared_data / "gammalib_p8v2"
    out = tmp_path / "out.fits"
    gtmktime(d / "ft2.fits.gz", "DATA_QUAL>0 && LAT_CONFIG==1", False, d / "ft1.fits.gz", out)
    new = fits.getheader(out, "GTI")
    real = fits.getheader(d / "ft1.fits.gz", "GTI")
    assert list(new.keys()) == list(real.keys())
    assert new["TUNIT1"] == new["TUNIT2"] == "s"
    assert new.comments["TTYPE1"] == real.comments["TTYPE1"]
