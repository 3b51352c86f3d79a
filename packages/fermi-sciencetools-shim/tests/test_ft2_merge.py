"""FT2 1 s -> 30 s merging (ft2Util mergeFT2 rules), kernel against its reference twin."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from fermi_sciencetools_shim.errors import ParameterError
from fermi_sciencetools_shim.io import _kernels, _reference, read_ft2
from fermi_sciencetools_shim.io.ft2_merge import merge_ft2, merge_ft2_file


def _rows(n, **overrides):
    start = np.arange(n, dtype=np.float64) + 1000.0
    data = {
        "START": start,
        "STOP": start + 1.0,
        "LIVETIME": np.full(n, 0.9),
        "LAT_CONFIG": np.ones(n, np.int64),
        "LAT_MODE": np.full(n, 5, np.int64),
        "DATA_QUAL": np.ones(n, np.int64),
        "RA_SCZ": np.arange(n, dtype=np.float64),
    }
    data.update(overrides)
    return data


def _both(data, dt=30.0):
    cols = [data[c] for c in ("START", "STOP", "LIVETIME", "LAT_CONFIG", "LAT_MODE", "DATA_QUAL")]
    got = _kernels.merge_groups(*cols, dt)
    ref = _reference.merge_groups(*cols, dt)
    for g, r in zip(got, ref, strict=True):
        np.testing.assert_array_equal(g, r)
    return got


def test_plain_one_second_rows_make_30_s_groups():
    first, last, live = _both(_rows(75))
    np.testing.assert_array_equal(first, [0, 30, 60])
    np.testing.assert_array_equal(last, [29, 59, 74])
    np.testing.assert_allclose(live, [27.0, 27.0, 13.5])
    merged = merge_ft2(_rows(75))
    np.testing.assert_array_equal(merged["STOP"] - merged["START"], [30.0, 30.0, 15.0])
    np.testing.assert_array_equal(merged["RA_SCZ"], [0.0, 30.0, 60.0])  # pointing of the first row


def test_flag_changes_cut_groups_early():
    mode = np.full(40, 5, np.int64)
    mode[10:] = 4
    first, last, _ = _both(_rows(40, LAT_MODE=mode))
    np.testing.assert_array_equal(first, [0, 10])
    np.testing.assert_array_equal(last, [9, 39])
    qual = np.ones(40, np.int64)
    qual[5:7] = 0
    first, _, _ = _both(_rows(40, DATA_QUAL=qual))
    np.testing.assert_array_equal(first, [0, 5, 7, 37])


def test_livetime_zero_transitions_cut_groups():
    live = np.full(40, 0.9)
    live[12:15] = 0.0
    first, last, total = _both(_rows(40, LIVETIME=live))
    np.testing.assert_array_equal(first, [0, 12, 15])
    np.testing.assert_array_equal(last, [11, 14, 39])
    assert total[1] == 0.0


def test_row_reaching_dt_is_merged_even_if_its_flags_change():
    # mergeFT2 tests the dt limit before the flag changes: row 29 joins group 0
    config = np.ones(60, np.int64)
    config[29:] = 0
    first, last, _ = _both(_rows(60, LAT_CONFIG=config))
    np.testing.assert_array_equal(first, [0, 30])
    np.testing.assert_array_equal(last, [29, 59])


def test_gaps_are_not_checked():
    data = _rows(20)
    data["START"][10:] += 100.0
    data["STOP"][10:] += 100.0
    first, last, _ = _both(data)
    # row 9 (stop 1010) + next duration 1 does not pass 1030: the group spans the gap
    np.testing.assert_array_equal(first, [0, 11])
    np.testing.assert_array_equal(last, [10, 19])


def test_bad_parameters():
    with pytest.raises(ParameterError, match="'dt'"):
        merge_ft2(_rows(3), dt=0)
    bad = _rows(3)
    del bad["LAT_MODE"]
    with pytest.raises(ParameterError, match="LAT_MODE"):
        merge_ft2(bad)


@pytest.mark.requires_data
def test_merge_real_one_second_file(shared_data, tmp_path):
    path = shared_data / "ft2util/ft2_example.fits"
    data = read_ft2(path)
    _both(data)
    out = merge_ft2_file(path, tmp_path / "ft2_30s.fits", version=2, proc_ver=310)
    merged = read_ft2(out)
    n = merged["START"].size
    assert n == 148  # 4430 rows: 148 groups of 30 rows (the last of 20), durations as below
    dur = merged["STOP"] - merged["START"]
    assert np.sum(np.abs(dur - 30.0) < 1e-6) == 146
    assert dur[0] == pytest.approx(29.951, abs=1e-3)  # the first 1 s row lasts 0.951 s
    assert dur[-1] == pytest.approx(19.485, abs=1e-3)  # 19 rows of 1 s and the final 0.485 s row
    assert np.all(dur <= 30.0)
    np.testing.assert_array_equal(merged["START"][1:], merged["STOP"][:-1])  # contiguous like the input
    assert merged["LIVETIME"].sum() == pytest.approx(data["LIVETIME"].sum(), rel=1e-13)
    # every column but STOP/LIVETIME is the first 1 s row of the group
    rows = np.searchsorted(data["START"], merged["START"])
    for name in ("SC_POSITION", "RA_SCZ", "DEC_SCZ", "QSJ_4", "LAT_MODE", "IN_SAA"):
        np.testing.assert_array_equal(merged[name], data[name][rows])
    with fits.open(out) as hdul:
        assert len(hdul["SC_DATA"].columns) == 27
        assert hdul["SC_DATA"].columns["DATA_QUAL"].format == "B"
        assert hdul[0].header["PROC_VER"] == 310 and hdul[0].header["VERSION"] == 2
        assert hdul[0].header["FILENAME"] == "ft2_30s.fits"
        assert hdul["SC_DATA"].header["TSTART"] == data["START"][0]
        assert hdul["SC_DATA"].header["TSTOP"] == data["STOP"][-1]
