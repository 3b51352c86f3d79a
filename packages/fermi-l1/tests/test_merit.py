"""Merit table: digi + recon -> Parquet -> the same columns back."""

from __future__ import annotations

import numpy as np
import pytest

from fermi_l1.digi import decode_events, encode_events
from fermi_l1.merit import MERIT_COLUMNS, MeritError, build_merit, read_merit, write_merit
from fermi_l1.recon import reconstruct
from fermi_l1.recon.toymc import simulate_photons


def _merit():  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(4)
    n = 60
    sim, _ = simulate_photons(np.full(n, 2000.0), rng.uniform(0, 50, n), rng.uniform(0, 360, n), rng)
    # through the byte format, as from the merged stream
    digi = decode_events(*encode_events(sim))
    q = np.tile([0.0, 0.0, 0.0, 1.0], (n, 1))
    pos = np.tile([7.0e6, 0.0, 0.0], (n, 1))
    return digi, build_merit(digi, reconstruct(digi, q, pos), run_id=239557414)


def test_merit_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    digi, cols = _merit()
    assert list(cols) == list(MERIT_COLUMNS)
    assert np.array_equal(cols["CAL_NLOGS"], np.diff(digi.cal_ptr))
    assert np.all(cols["RUN_ID"] == 239557414)
    assert np.array_equal(cols["EVENT_ID"], np.arange(60))
    # toy events: tones at 999 / 1000 s, triggers 1000 ticks apart at the nominal 20 MHz
    assert np.allclose(cols["TIME"], 1000.0 + np.arange(60) * 1000 / 20e6, rtol=0, atol=1e-9)
    path = write_merit(tmp_path / "r0239557414_merit.parquet", cols, run_id=239557414)
    assert not list(tmp_path.glob(".*tmp"))
    back = read_merit(path)
    assert list(back) == list(MERIT_COLUMNS)
    for name, values in cols.items():
        assert back[name].dtype == values.dtype, name
        np.testing.assert_array_equal(back[name], values, err_msg=name)
    sub = read_merit(path, columns=["ENERGY", "EVENT_CLASS"])
    assert list(sub) == ["ENERGY", "EVENT_CLASS"]


def test_merit_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    digi, cols = _merit()
    path = write_merit(tmp_path / "m.parquet", cols)
    with pytest.raises(MeritError, match=r"no column.*NOPE"):
        read_merit(path, columns=["NOPE"])
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"not parquet")
    with pytest.raises(MeritError, match=r"junk\.parquet: cannot read as Parquet"):
        read_merit(junk)
    with pytest.raises(ValueError, match="merit columns missing: ENERGY"):
        write_merit(tmp_path / "x.parquet", {k: v for k, v in cols.items() if k != "ENERGY"})
    rec = reconstruct(digi)
    del rec["THETA"]
    with pytest.raises(ValueError, match="recon columns missing: THETA"):
        build_merit(digi, rec, 1)
    import pyarrow as pa
    import pyarrow.parquet as pq

    other = tmp_path / "other.parquet"
    pq.write_table(pa.table({"a": [1, 2]}), other)
    with pytest.raises(MeritError, match="not a merit file"):
        read_merit(other)
