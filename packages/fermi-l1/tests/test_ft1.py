"""FT1 production: the L1 chain on synthetic merit with known truth, compared with real FT1 files."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from astropy.io import fits

from fermi_l1 import synthetic
from fermi_l1.ft1 import ft1_columns, make_run_ft1, merge_ft1, write_chunk_ft1
from fermi_l1.ft1.make import _keywords, _merged, chunk_events
from fermi_l1.ft2 import make_ft2_rows, write_ft2_products
from fermi_l1.merit import MeritError, merit_metadata
from fermi_sciencetools_shim.io import read_events, read_gti, write_ft1
from fermi_sciencetools_shim.select.gtselect import gtselect

RUN = 239557414
DATE = "2024-05-01T12:00:00"
REAL_FT1 = ("gammapy_tests_fermi/ft1_00.fits", "gammalib_p8v2/ft1.fits.gz")


@pytest.fixture(scope="module")
def run_products(tmp_path_factory):
    """FT2 with a 20 s data hole (zero livetime) and the three FT1 products of a 300 s run."""
    out = tmp_path_factory.mktemp("l1")
    t0, t1 = RUN + 0.3, RUN + 300.5
    samples = synthetic.spacecraft_samples(RUN - 5.0, 320.0)
    t, lt = synthetic.event_counters(t0, t1)
    hole = (t > RUN + 100.0) & (t < RUN + 120.0)
    rows = make_ft2_rows(samples, t[~hole], lt[~hole], t0, t1)
    ft2 = write_ft2_products(out, RUN, rows, date=DATE)
    merit = synthetic.merit_table(samples, t0, t1, 400)
    in_hole = (merit["TIME"] > RUN + 100.0) & (merit["TIME"] < RUN + 120.0)
    merit = {k: v[~in_hole] for k, v in merit.items()}
    # two chunks, the second written as Parquet, given out of order
    first = {k: v[:150] for k, v in merit.items()}
    second = {k: v[150:] for k, v in merit.items()}
    parquet = out / "chunk1.parquet"
    table = pa.table({k: (list(v) if v.ndim > 1 else v) for k, v in second.items()})
    pq.write_table(table.replace_schema_metadata(merit_metadata(RUN)), parquet)
    products = make_run_ft1(out, RUN, [parquet, first], ft2.seconds, date=DATE)
    return {"ft2": ft2, "merit": merit, "products": products, "rows": rows}


def test_products_are_named_like_the_fssc_exports(run_products):
    p = run_products["products"]
    assert p.photon.name == "gll_ph_p305_r0239557414_v001.fit"
    assert p.extended.name == "gll_xp_p305_r0239557414_v001.fit"
    assert p.ls1.name == "gll_ev_p305_r0239557414_v001.fit"


def test_extended_file_keeps_every_event_with_the_gti_of_the_livetime_rows(run_products):
    merit, rows = run_products["merit"], run_products["rows"]
    events, header = read_events(run_products["products"].extended)
    np.testing.assert_array_equal(events["TIME"], merit["TIME"])
    np.testing.assert_array_equal(events["EVENT_CLASS"], merit["EVENT_CLASS"])
    np.testing.assert_allclose(events["RA"], merit["RA"], atol=1e-4)
    gti = read_gti(run_products["products"].extended)
    # two intervals around the data hole; their ends are FT2 row edges with LIVETIME > 0
    assert len(gti) == 2
    live = rows["LIVETIME"] > 0
    assert gti.stop[0] in rows["STOP"][live] and gti.start[1] in rows["START"][live]
    assert RUN + 100.0 <= gti.stop[0] + 1 and gti.start[1] <= RUN + 121.0
    assert header["TSTART"] <= gti.start[0] and gti.stop[-1] <= header["TSTOP"]
    assert header["PASS_VER"] == "P8R3"
    assert fits.getheader(run_products["products"].extended, 0)["PROC_VER"] == 305


def test_photon_file_is_the_source_class(run_products):
    merit = run_products["merit"]
    events, _ = read_events(run_products["products"].photon)
    source = (merit["EVENT_CLASS"] & 128) != 0
    np.testing.assert_array_equal(events["TIME"], merit["TIME"][source])
    assert np.all(events["EVENT_CLASS"] & 128)
    ls1, _ = read_events(run_products["products"].ls1)
    assert ls1["TIME"].size == merit["TIME"].size  # every synthetic event is TRANSIENT015S


def test_products_open_in_the_shim_tools(run_products, tmp_path):
    result = gtselect(run_products["products"].photon, tmp_path / "sel.fits", emin=100, emax=300000, zmax=90)
    merit = run_products["merit"]
    expected = ((merit["EVENT_CLASS"] & 128) != 0) & (merit["ENERGY"] > 100) & (merit["ZENITH_ANGLE"] <= 90)
    assert result.n_events == int(expected.sum())


def test_rerun_is_byte_identical(run_products, tmp_path):
    merit = run_products["merit"]
    again = make_run_ft1(tmp_path, RUN, [merit], run_products["ft2"].seconds, date=DATE)
    # one chunk instead of two: same events, same GTI, same bytes
    for a, b in zip(again.all(), run_products["products"].all(), strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    with fits.open(again.photon, checksum=True) as hdul:
        assert all(h.header["DATE"] == DATE for h in hdul)


def test_in_memory_merge_is_the_merge_of_the_chunk_files(run_products, tmp_path):
    """The run step merges chunks in memory: the same file as makeFT1 chunk files + mergeFT1."""
    merit = run_products["merit"]
    chunks = [{k: v[150:] for k, v in merit.items()}, {k: v[:150] for k, v in merit.items()}]
    files = [write_chunk_ft1(tmp_path / f"chunk{i}.fits", c) for i, c in enumerate(chunks)]
    through_files = merge_ft1(files, tmp_path / "files.fits")
    events, gti, tstart, tstop = _merged([chunk_events(c) for c in chunks])
    in_memory = write_ft1(tmp_path / "memory.fits", events, gti, {**_keywords(0, 1, 305, "P8R3"),
                                                                 "TSTART": tstart, "TSTOP": tstop})  # fmt: skip
    with fits.open(through_files) as a, fits.open(in_memory) as b:
        assert len(a) == len(b) == 3
        for ha, hb in zip(a, b, strict=True):
            skip = {"DATE", "FILENAME", "CHECKSUM", "DATASUM"}
            assert [(c.keyword, c.value) for c in ha.header.cards if c.keyword not in skip] == [
                (c.keyword, c.value) for c in hb.header.cards if c.keyword not in skip
            ]
            if ha.data is not None:
                assert ha.data.tobytes() == hb.data.tobytes()
    assert np.all(np.diff(events["TIME"]) >= 0) and len(events["TIME"]) == len(merit["TIME"])


def test_merit_without_required_columns_is_refused(tmp_path):
    with pytest.raises(MeritError, match="missing column\\(s\\) ENERGY"):
        ft1_columns({"TIME": np.arange(3.0)})
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet")
    with pytest.raises(MeritError, match=r"bad\.parquet: cannot read as Parquet"):
        ft1_columns(bad)
    plain = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"TIME": np.arange(3.0)}), plain)
    with pytest.raises(MeritError, match=r"plain\.parquet: not a merit file"):
        ft1_columns(plain)


@pytest.mark.requires_data
@pytest.mark.parametrize("real", REAL_FT1)
def test_ft1_layout_and_keywords_match_real_files(run_products, shared_data, real):
    with fits.open(shared_data / real) as ref, fits.open(run_products["products"].photon) as ours:
        for ext in ("EVENTS", "GTI"):
            r, o = ref[ext].columns, ours[ext].columns
            assert o.names[: len(r.names)] == r.names
            assert [c.format for c in o] == [c.format for c in r]
            assert [c.unit for c in o] == [c.unit for c in r]
        skip = ("T", "HISTORY", "COMMENT", "DS", "NDSKEYS", "CHECKSUM", "DATASUM")
        for ext in (0, "EVENTS", "GTI"):
            keys_r = {k for k in ref[ext].header if not k.startswith(skip)}
            keys_o = {k for k in ours[ext].header if not k.startswith(skip)}
            assert keys_r <= keys_o, (ext, keys_r - keys_o)
            for key in (
                "TELESCOP",
                "INSTRUME",
                "TIMESYS",
                "TIMEREF",
                "MJDREFI",
                "MJDREFF",
                "EQUINOX",
                "RADECSYS",
            ):
                if key in ref[ext].header:
                    assert ours[ext].header[key] == ref[ext].header[key], (ext, key)
        assert ours["EVENTS"].header["HDUCLAS1"] == ref["EVENTS"].header["HDUCLAS1"]
