"""FT2 reading (27/29/30-column files, several files) and the writer."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from fermi_sciencetools_shim.errors import InputFileError
from fermi_sciencetools_shim.io import read_ft2, write_ft2

_IGNORED = {"CHECKSUM", "DATASUM", "HISTORY", "COMMENT", ""}
W323 = "pint/lat_spacecraft_weekly_w323_p202_v001.fits"
ONE_SECOND = "ft2util/ft2_example.fits"


def _keys(header: fits.Header) -> list[str]:
    return [k for k in header if k not in _IGNORED]


@pytest.mark.requires_data
def test_read_30_column_weekly_file(shared_data):
    d = read_ft2(shared_data / W323)
    assert len(d) == 30
    assert d["START"].size == 17305
    assert d["START"][0] == pytest.approx(429066902.639, abs=1e-3)
    assert d["STOP"][-1] == pytest.approx(429672775.086, abs=1e-3)
    assert d["SC_POSITION"].shape == (17305, 3)
    r = np.linalg.norm(d["SC_POSITION"], axis=1)
    assert np.all((r > 6.85e6) & (r < 7.0e6))
    assert d["DATA_QUAL"].dtype == np.int64 and np.all(d["DATA_QUAL"] == 1)
    assert d["LIVETIME"].dtype == np.float64
    assert set(np.unique(d["LAT_MODE"])) <= {3, 4, 5}
    dur = d["STOP"] - d["START"]
    assert np.sum(dur == 30.0) == pytest.approx(16778, abs=0)
    assert np.sum(d["START"][1:] > d["STOP"][:-1]) == 105  # SAA gaps


@pytest.mark.requires_data
def test_read_27_column_one_second_file(shared_data):
    d = read_ft2(shared_data / ONE_SECOND, columns=["start", "stop", "livetime", "lat_config", "data_qual"])
    assert list(d) == ["START", "STOP", "LIVETIME", "LAT_CONFIG", "DATA_QUAL"]
    assert d["START"].size == 4430
    assert np.all(d["LAT_CONFIG"] == 2)
    np.testing.assert_array_equal(d["START"][1:], d["STOP"][:-1])  # contiguous
    frac = d["LIVETIME"] / (d["STOP"] - d["START"])
    assert frac.min() > 0.8 and frac.max() < 0.95


@pytest.mark.requires_data
def test_read_several_files_concatenates_in_order(shared_data):
    a, b = shared_data / "gammalib_p8v2/ft2.fits.gz", shared_data / W323
    d = read_ft2([a, b], columns=["START", "LIVETIME"])
    assert d["START"].size == 5604 + 17305
    assert d["START"][5604] == pytest.approx(429066902.639, abs=1e-3)
    with pytest.raises(InputFileError, match="no column LAMBDA") as info:
        read_ft2([b, shared_data / ONE_SECOND], columns=["LAMBDA"])
    assert "ft2_example.fits" in str(info.value)


def test_missing_ft2_file(tmp_path):
    with pytest.raises(InputFileError, match="no such file"):
        read_ft2(tmp_path / "nope.fits")


@pytest.mark.requires_data
@pytest.mark.parametrize("name, layout", [(W323, "30"), (ONE_SECOND, "27")])
def test_write_ft2_layout_and_round_trip(shared_data, tmp_path, name, layout):
    d = read_ft2(shared_data / name)
    out = tmp_path / "sc.fits"
    with fits.open(shared_data / name) as ref:
        tstart, tstop = ref["SC_DATA"].header["TSTART"], ref["SC_DATA"].header["TSTOP"]
    write_ft2(out, d, {"TSTART": tstart, "TSTOP": tstop, "ORIGIN": "FSSC"})
    with fits.open(out) as new, fits.open(shared_data / name) as old:
        assert [h.name for h in new] == ["PRIMARY", "SC_DATA"]
        if layout == "30":
            # the 2011 ft2Util file lacks some template keywords (PROC_VER); P202 is the reference
            assert _keys(new[0].header) == _keys(old[0].header)
            assert _keys(new["SC_DATA"].header) == _keys(old["SC_DATA"].header)
        for cn, co in zip(new["SC_DATA"].columns, old["SC_DATA"].columns, strict=True):
            assert (cn.name, cn.format, cn.unit) == (co.name, co.format, co.unit)
            np.testing.assert_array_equal(new["SC_DATA"].data[cn.name], old["SC_DATA"].data[co.name])
        assert new[0].header["FILENAME"] == "sc.fits"
    back = read_ft2(out)
    for key in d:
        np.testing.assert_array_equal(back[key], d[key])
