"""Run state: re-runs, the EPU rule, force-complete, late data, output files."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sqlalchemy import func, select

from fermi_core.db import session_scope
from fermi_halfpipe import models as M
from fermi_halfpipe import stitch
from fermi_halfpipe.errors import HalfpipeError
from fermi_halfpipe.options import HalfpipeOptions
from fermi_halfpipe.outputs import read_merged
from fermi_halfpipe.stitch import force_complete, run_status
from fermi_halfpipe.synthetic import make_run
from fermi_halfpipe.testing import datagram_packets, deliver, merged_outputs

TABLES = (M.HalfpipeRun, M.HalfpipeDelivery, M.HalfpipeDatagram, M.HalfpipeSighting, M.HalfpipeFragment,
          M.HalfpipeSpan, M.HalfpipeFile, M.HalfpipeHeld, M.HalfpipeProblem)  # fmt: skip


@pytest.fixture(scope="module")
def run():
    return make_run(np.random.default_rng(33), 80, events_per_datagram=5)


def _two_deliveries(run):
    n0, n1 = len(run.datagrams[956]), len(run.datagrams[957])
    return (
        [datagram_packets(run, 956, range(n0 // 2)), datagram_packets(run, 957, range(2))],
        [datagram_packets(run, 956, range(n0 // 2, n0)), datagram_packets(run, 957, range(2, n1))],
    )


def _counts():
    with session_scope() as s:
        return {t.__tablename__: s.scalar(select(func.count()).select_from(t)) for t in TABLES}


def _tree(home):
    return {
        str(p.relative_to(home)): p.read_bytes()
        for p in sorted(home.rglob("*"))
        if p.is_file() and "fermi.db" not in p.name
    }


def test_rerun_on_purpose_changes_no_byte_and_adds_no_row(home, run):
    d1, d2 = _two_deliveries(run)
    s1, s2 = deliver("230401001", d1), deliver("230401002", d2)
    before, rows = _tree(home), _counts()
    assert deliver("230401001", d1) == s1 and deliver("230401002", d2) == s2
    assert _tree(home) == before and _counts() == rows


def test_merge_killed_half_way_then_rerun_gives_byte_identical_outputs(home, run, tmp_path, monkeypatch):
    d1, d2 = _two_deliveries(run)
    clean = [deliver("230401001", d1), deliver("230401002", d2)]
    reference = _tree(home)
    other = tmp_path / "other"
    monkeypatch.setenv("FERMI_HOME", str(other))
    monkeypatch.setenv("FERMI_DB_URL", f"sqlite:///{other / 'fermi.db'}")
    deliver("230401001", d1)
    real = stitch.atomic_write_bytes

    def crash(path, data):  # dies after the merged files, before the summary and the commit
        if str(path).endswith(".json"):
            raise KeyboardInterrupt("killed")
        real(path, data)

    monkeypatch.setattr(stitch, "atomic_write_bytes", crash)
    with pytest.raises(KeyboardInterrupt):
        deliver("230401002", d2)
    monkeypatch.setattr(stitch, "atomic_write_bytes", real)
    assert run_status()[0]["status"] == "open"  # the killed merge left no row behind
    again = [deliver("230401002", d2)]
    assert again[0] == clean[1]
    assert _tree(other) == reference
    seq, _ = merged_outputs(other, clean)
    assert np.array_equal(seq, run.gem_seq)


def test_run_with_a_third_epu_is_rejected_with_the_reason_recorded(home, capsys):
    run = make_run(np.random.default_rng(2), 30, apids=(956, 958))
    s = deliver("230401001", [run.packets(956), run.packets(958)])
    (r,) = s["runs"]
    assert r["status"] == "rejected" and r["delivered"] == 0 and r["files"] == []
    assert "APID(s) [958]" in r["reason"] and "230401001" in r["reason"]
    from fermi_halfpipe.cli import main

    assert main(["status", str(run.run)]) == 0
    out = capsys.readouterr().out
    assert "rejected" in out and "APID(s) [958]" in out
    assert not (home / "runs").exists()


def test_crate_not_matching_its_apid_rejects_the_run(home):
    run = make_run(np.random.default_rng(2), 30, apids=(957, 956))  # crates swapped
    (r,) = deliver("230401001", [run.packets(956), run.packets(957)])["runs"]
    assert (
        r["status"] == "rejected" and "APID 956 carries datagrams of crate [1], expected EPU0" in r["reason"]
    )


def test_the_expected_epu_set_is_configurable(home):
    run = make_run(np.random.default_rng(2), 30, apids=(956, 958))
    cols = [run.packets(956), run.packets(958)]
    from fermi_ingest.ccsds.encode import concatenate
    from fermi_ingest.published import AcceptedPackets

    s = stitch.merge_packets(
        "230401001",
        AcceptedPackets.from_columns(concatenate(cols)),
        HalfpipeOptions(epu_apids={956: 0, 958: 1}),
    )
    assert s["runs"][0]["status"] == "complete" and s["runs"][0]["delivered"] == 30


def test_force_complete_delivers_held_events_and_records_the_reason(home):
    run = make_run(np.random.default_rng(8), 60, events_per_datagram=5, close_action=3)  # never ends
    s = deliver("230401001", [run.packets(956), run.packets(957)])
    r = s["runs"][0]
    assert r["status"] == "open" and r["held_back"] > 0
    with pytest.raises(HalfpipeError, match="a reason is required"):
        force_complete(run.run, "  ")
    rep = force_complete(run.run, "EPU stopped reporting after the SAA")
    assert rep["status"] == "incomplete" and rep["step"]["delivered"] == r["held_back"]
    assert rep["delivered"] == r["delivered"] + r["held_back"] and rep["step"]["retired_now"]
    assert "EPU stopped reporting after the SAA" in rep["reason"] and "run end missing" in rep["reason"]
    (st,) = run_status(run.run)
    assert st["status"] == "incomplete" and st["held_back"] == 0 and st["delivered"] == 60
    seq, recs = merged_outputs(home, [s, {"runs": [rep]}])
    assert np.array_equal(seq, run.gem_seq) and recs == run.records
    with pytest.raises(HalfpipeError, match="status is incomplete"):
        force_complete(run.run, "again")


def test_data_arriving_after_retirement_make_the_next_revision_beside_the_old_files(home):
    run = make_run(np.random.default_rng(8), 60, events_per_datagram=5)
    n0 = len(run.datagrams[956])
    s1 = deliver("230401001", [datagram_packets(run, 956, range(n0 - 2)), run.packets(957)])
    forced = force_complete(run.run, "gave up waiting")
    assert forced["revision"] == 1 and forced["lost_events"] > 0
    old = {f["path"]: (home / f["path"]).read_bytes() for f in forced["files"]}
    s = deliver("230401002", [datagram_packets(run, 956, [n0 - 2, n0 - 1])])
    (r,) = s["runs"]
    # the retired run's late datagrams are merged into new files of its next revision
    assert r["step"]["revision"] == 2 and r["step"]["late"] == 0 and r["step"]["files"]
    assert r["status"] == "complete" and r["revision"] == 2 and r["lost_events"] == 0
    assert all(f["path"].endswith("-v002.arrow") for f in r["step"]["files"])
    current = {f["path"] for f in r["files"]}
    assert {f["path"] for f in r["step"]["files"]} <= current and not set(old) <= current  # one replaced
    for path, data in old.items():  # the files of revision 1 are still there, unchanged
        assert (home / path).read_bytes() == data
    seq, recs = merged_outputs(home, [{"runs": [{"files": r["files"]}]}])
    assert np.array_equal(seq, run.gem_seq) and recs == run.records
    (st,) = run_status(run.run)
    assert st["delivered"] == 60 and st["files"] == r["files"] and st["state"] == "complete"
    # the same datagrams again are duplicates: no revision
    s3 = deliver("230401003", [datagram_packets(run, 956, [n0 - 2, n0 - 1])])
    assert s3["runs"][0]["revision"] == 2 and s3["runs"][0]["step"]["duplicate_datagrams"] == 2
    assert s1["runs"][0]["revision"] == 0


def test_files_are_split_at_max_events_with_non_overlapping_ranges(home, run):
    from fermi_ingest.ccsds.encode import concatenate
    from fermi_ingest.published import AcceptedPackets

    s = stitch.merge_packets(
        "230401001",
        AcceptedPackets.from_columns(concatenate([run.packets(956), run.packets(957)])),
        HalfpipeOptions(max_events=25),
    )
    files = s["runs"][0]["files"]
    assert [f["n_events"] for f in files] == [25, 25, 25, 5]
    assert all(a["last_gem"] < b["first_gem"] for a, b in itertools.pairwise(files))
    m = read_merged(home / files[1]["path"], sha256=files[1]["sha256"])
    assert m.columns["gem_seq"].dtype == np.uint64 and m.columns["epu"].dtype == np.uint8
    assert np.array_equal(m.offsets, np.r_[0, np.cumsum(m.lengths)[:-1]])
    assert m.records_buffer.size == m.lengths.sum()
    # the record bytes start with the event identity and carry the event's GEM sequence
    heads = m.records_buffer[m.offsets[:, None] + np.arange(16)]
    assert np.all(heads[:, :4] == [0x10, 0x4F, 0x00, 0x10])
    assert np.array_equal(heads[:, 8:16].copy().view(">u8").ravel(), m.columns["gem_seq"])
    with pytest.raises(ValueError, match="differs from the recorded"):
        read_merged(home / files[1]["path"], sha256="0" * 64)


def test_a_datagram_sent_again_with_different_bytes_is_reported_and_the_first_copy_kept(home, run):
    s1 = deliver("230401001", [run.packets(956), run.packets(957)])
    again = datagram_packets(run, 956, [1])
    again.payload = again.payload.copy()
    again.payload[32 + 96 + 8 + 1] ^= 0xFF  # a GEM trigger-vector byte of the first event
    s2 = deliver("230401002", [again])
    (r,) = s2["runs"]
    assert r["duplicate_datagrams"] == 1 and r["step"]["conflicting_datagrams"] == 1 and r["late"] == 0
    with session_scope() as s:
        (p,) = s.scalars(select(M.HalfpipeProblem)).all()
        assert p.delivery_id == "230401002" and "datagram 1 differs from the copy stored earlier" in p.reason
    seq, recs = merged_outputs(home, [s1, s2])
    assert np.array_equal(seq, run.gem_seq) and recs == run.records
    seen = [d for d in run_status()[0]["datagrams"] if d["delivery"] == "230401002"]
    assert seen == [{"apid": 956, "delivery": "230401002", "first": 1, "last": 1, "duplicates": 1}]
