"""FT1 reading (bit columns, GTI, events) and the Pass 8 writer, checked on real LAT files."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from fermi_sciencetools_shim.errors import InputFileError, ParameterError
from fermi_sciencetools_shim.gti import Gti
from fermi_sciencetools_shim.io import (
    decode_bits,
    encode_bits,
    pass_version,
    read_dss,
    read_events,
    read_gti,
    write_ft1,
)

SOURCE = 128
_IGNORED = {"CHECKSUM", "DATASUM", "HISTORY", "COMMENT", ""}


def _keys(header: fits.Header) -> list[str]:
    return [k for k in header if k not in _IGNORED]


def test_decode_bits_msb_first_and_round_trip():
    bits = np.zeros((2, 32), dtype=bool)
    bits[0, 31] = True  # least significant bit
    bits[1, 0] = True  # most significant bit
    bits[1, 24] = True  # 2**7 = SOURCE
    np.testing.assert_array_equal(decode_bits(bits), [1, 2**31 + 128])
    values = np.array([0, 1, 128, 2048 | 128 | 127, 65544, 2**31 + 5])
    np.testing.assert_array_equal(decode_bits(encode_bits(values)), values)
    np.testing.assert_array_equal(decode_bits(np.array([3, 7], dtype=">i4")), [3, 7])


def test_encode_bits_rejects_out_of_range():
    with pytest.raises(ValueError, match="bit values"):
        encode_bits(np.array([-1]))


@pytest.mark.requires_data
@pytest.mark.parametrize(
    "name, form, mask",
    [
        ("gammalib_p8v2/ft1.fits.gz", "32X", SOURCE),
        ("gammapy_3fhl_gc/fermi-3fhl-gc-events.fits.gz", "32L", SOURCE),
        ("gammapy_tests_fermi/ft1_00.fits", "32X", 2048),
    ],
)
def test_pass8_event_class_bits_decode(shared_data, name, form, mask):
    path = shared_data / name
    with fits.open(path) as hdul:
        assert hdul["EVENTS"].columns["EVENT_CLASS"].format == form
    events, header = read_events(path, columns=["EVENT_CLASS", "EVENT_TYPE", "CONVERSION_TYPE"])
    assert events["EVENT_CLASS"].dtype == np.int64
    # every event of these selected files carries the selected class bit
    assert np.all(events["EVENT_CLASS"] & mask != 0)
    # FRONT (1) / BACK (2) bits agree with CONVERSION_TYPE 0 / 1
    front_back = events["EVENT_TYPE"] & 3
    np.testing.assert_array_equal(front_back, np.where(events["CONVERSION_TYPE"] == 0, 1, 2))
    assert pass_version(header).startswith("P8")


@pytest.mark.requires_data
def test_pass7_integer_event_class(shared_data):
    events, header = read_events(shared_data / "gammalib_p7v6/ft1.fits.gz", columns=["event_class"])
    assert pass_version(header) == "P7V6"
    # P7 DSS is BIT_MASK(EVENT_CLASS,2): bit position 2 set in every event
    assert events["EVENT_CLASS"].size == 3206
    assert np.all(events["EVENT_CLASS"] & 4 != 0)


@pytest.mark.requires_data
@pytest.mark.parametrize(
    "name, rows, ontime",
    [
        ("gammalib_p8v2/ft1.fits.gz", 15, 63395.6504765749),
        ("gammalib_p7v6/ft1.fits.gz", 103, 479181.286829263),
        ("gammapy_3fhl_gc/fermi-3fhl-gc-events.fits.gz", 39042, 183139597.903216),
        ("gammapy_tests_fermi/ft1_00.fits", 89705, 426196949.149698),
        ("gammapy_tests_fermi/ft1_01.fits", 89705, 426196949.149698),
        ("pint/J0030+0451_w323_ft1weights.fits", 39098, 183206733.159797),
    ],
)
def test_read_gti_on_real_files(shared_data, name, rows, ontime):
    gti = read_gti(shared_data / name)
    assert len(gti) == rows
    assert gti.ontime == pytest.approx(ontime, rel=1e-14)
    with fits.open(shared_data / name) as hdul:
        np.testing.assert_array_equal(gti.start, hdul["GTI"].data["START"])
        assert gti.ontime == pytest.approx(hdul["GTI"].header["ONTIME"], rel=1e-14)


@pytest.mark.requires_data
def test_read_gti_union_of_files(shared_data):
    a = shared_data / "gammalib_p8v2/ft1.fits.gz"
    b = shared_data / "gammalib_p7v6/ft1.fits.gz"
    both = read_gti([a, b])
    assert both.tmin == min(read_gti(a).tmin, read_gti(b).tmin)
    assert both.ontime <= read_gti(a).ontime + read_gti(b).ontime
    assert np.all(both.start[1:] > both.stop[:-1])  # consolidated


@pytest.mark.requires_data
def test_file_without_gti_is_a_clear_error(shared_data):
    geo = shared_data / "pint/J0030+0451_P8_15.0deg_239557517_458611204_ft1weights_GEO_wt.gt.0.4.fits"
    with pytest.raises(InputFileError, match="has no GTI extension") as info:
        read_gti(geo)
    assert geo.name in str(info.value)


def test_missing_file_and_column_errors(tmp_path):
    with pytest.raises(InputFileError, match="no such file"):
        read_events(tmp_path / "absent.fits")
    with pytest.raises(InputFileError, match="PASS_VER"):
        pass_version(fits.Header())


@pytest.mark.requires_data
def test_unknown_column_names_the_file(shared_data):
    path = shared_data / "gammalib_p8v2/ft1.fits.gz"
    with pytest.raises(InputFileError, match="no column NOPE") as info:
        read_events(path, columns=["TIME", "NOPE"])
    assert "ft1.fits.gz" in str(info.value)


@pytest.mark.requires_data
def test_write_ft1_layout_and_round_trip(shared_data, tmp_path):
    ref = shared_data / "gammapy_tests_fermi/ft1_00.fits"
    events, header = read_events(ref)
    gti = read_gti(ref)
    out = tmp_path / "copy.fits"
    write_ft1(
        out,
        events,
        gti,
        {"TSTART": header["TSTART"], "TSTOP": header["TSTOP"], "PASS_VER": "P8R3", "ORIGIN": "FSSC"},
        dss=read_dss(header),
    )
    with (
        fits.open(out) as new,
        fits.open(ref) as old,
        fits.open(shared_data / "gammalib_p8v2/ft1.fits.gz") as l1,
    ):
        assert [h.name for h in new] == ["PRIMARY", "EVENTS", "GTI"]
        assert _keys(new[0].header) == _keys(old[0].header)
        assert _keys(new["EVENTS"].header) == _keys(old["EVENTS"].header)
        # the full L1 GTI template (TELAPSE, TUNIT/TLMIN/TLMAX) as in the gammalib file
        assert _keys(new["GTI"].header) == _keys(l1["GTI"].header)
        for col_new, col_old in zip(new["EVENTS"].columns, old["EVENTS"].columns, strict=True):
            assert (col_new.name, col_new.format, col_new.unit) == (
                col_old.name,
                col_old.format,
                col_old.unit,
            )
        for key in old["EVENTS"].header:
            if key.startswith(("TLMIN", "TLMAX", "DSTYP", "DSVAL", "DSREF")):
                assert new["EVENTS"].header[key] == old["EVENTS"].header[key], key
        for key in ("DATE-OBS", "DATE-END", "TSTART", "TSTOP", "MJDREFF", "TIMESYS"):
            assert new["EVENTS"].header[key] == old["EVENTS"].header[key], key
        assert new[0].header["FILENAME"] == "copy.fits"
        assert new["GTI"].header["ONTIME"] == pytest.approx(426196949.149698, rel=1e-14)
        for name in old["EVENTS"].columns.names:
            np.testing.assert_array_equal(new["EVENTS"].data[name], old["EVENTS"].data[name], err_msg=name)
        np.testing.assert_array_equal(new["GTI"].data["STOP"], old["GTI"].data["STOP"])
    back, _ = read_events(out)
    np.testing.assert_array_equal(back["EVENT_CLASS"], events["EVENT_CLASS"])


def test_write_ft1_requires_the_pass8_columns(tmp_path):
    with pytest.raises(ParameterError, match="ENERGY"):
        write_ft1(tmp_path / "x.fits", {"TIME": np.zeros(1)}, Gti.empty())
    assert not (tmp_path / "x.fits").exists()
