"""One test per way the old halfPipe loses or strands data (shared notes telemetry.md §1.10)."""

from __future__ import annotations

import shutil
import threading
import time

import numpy as np
import pytest

from fermi_core.db import session_scope
from fermi_halfpipe import locks
from fermi_halfpipe.errors import HalfpipeError
from fermi_halfpipe.stitch import run_status
from fermi_halfpipe.synthetic import make_run
from fermi_halfpipe.testing import datagram_packets, deliver, events_of, merged_outputs, part


def _all(run, apid):
    return range(len(run.datagrams[apid]))


@pytest.fixture(scope="module")
def run():
    return make_run(np.random.default_rng(21), 90, events_per_datagram=6)


def test_mechanism1_completeness_is_judged_against_the_expected_epus_not_those_present(home, run):
    s1 = deliver("230401001", [run.packets(956)])  # EPU0 start..stop complete, EPU1 not arrived
    (r,) = s1["runs"]
    assert r["status"] == "open" and r["step"]["retired_now"] is False and s1["retired_runs"] == []
    assert r["delivered"] == 0 and r["held_back"] == events_of(run, 956, _all(run, 956))
    assert "APID 957: no datagram received" in r["missing"]
    (held,) = run_status()[0]["held"]  # held back with its location
    assert held["kind"] == "held" and held["apid"] == 956 and held["n_events"] == r["held_back"]
    assert held["datagrams"] == [0, len(run.datagrams[956]) - 1] and (home / held["store"]).is_file()
    s2 = deliver("230401002", [run.packets(957)])
    assert s2["retired_runs"] == [{"run_id": run.run, "status": "complete"}]
    assert run_status()[0]["held"] == []
    seq, recs = merged_outputs(home, [s1, s2])
    assert np.array_equal(seq, run.gem_seq) and recs == run.records


def test_mechanism2_a_datagram_gap_inside_a_delivery_keeps_the_run_open(home, run):
    n0 = len(run.datagrams[956])
    s1 = deliver(
        "230401001", [datagram_packets(run, 956, [d for d in range(n0) if d != 2]), run.packets(957)]
    )
    (r,) = s1["runs"]
    assert r["status"] == "open" and s1["retired_runs"] == []
    assert "APID 956: datagrams 2-2 missing" in r["missing"]
    assert r["held_back"] > 0
    s2 = deliver("230401002", [datagram_packets(run, 956, [2])])
    assert s2["runs"][0]["status"] == "complete" and s2["runs"][0]["held_back"] == 0
    seq, recs = merged_outputs(home, [s1, s2])
    assert np.array_equal(seq, run.gem_seq) and recs == run.records


def test_mechanism3_abort_and_pause_end_a_run_and_no_tail_event_is_orphaned(home):
    run = make_run(np.random.default_rng(4), 80, events_per_datagram=6, close_action={956: 1, 957: 2})
    n0, n1 = len(run.datagrams[956]), len(run.datagrams[957])
    s1 = deliver(
        "230401001", [datagram_packets(run, 956, range(n0 - 2)), datagram_packets(run, 957, range(n1 - 3))]
    )
    s2 = deliver(
        "230401002",
        [datagram_packets(run, 956, [n0 - 2, n0 - 1]), datagram_packets(run, 957, range(n1 - 3, n1))],
    )
    r = s2["runs"][0]
    assert r["status"] == "complete" and r["held_back"] == 0
    seq, recs = merged_outputs(home, [s1, s2])
    assert np.array_equal(seq, run.gem_seq) and recs == run.records  # the tails of both EPUs included


def test_mechanism4_later_segments_of_an_epu_are_merged_in_the_same_delivery(home, run):
    n0 = len(run.datagrams[956])
    s1 = deliver("230401001", [datagram_packets(run, 956, [0, 1, *range(4, n0)]), run.packets(957)])
    r = s1["runs"][0]
    # everything except the hole left by EPU0's datagrams 2-3 is delivered now
    e0 = run.gem_seq[run.epu == 0]  # 6 events per datagram
    lo, hi = int(e0[11]) + 1, int(e0[24]) - 1  # between EPU0's datagrams 1 and 4
    assert len(r["spans"]) == 2, "both segments of EPU0 must be merged, not only the first"
    assert r["event_gaps"] == [[lo, hi]]
    held = (run.gem_seq >= lo) & (run.gem_seq <= hi)
    assert r["delivered"] == int((~held).sum())
    assert r["held_back"] == int((held & (run.epu == 1)).sum())
    s2 = deliver("230401002", [datagram_packets(run, 956, [2, 3])])
    seq, recs = merged_outputs(home, [s1, s2])
    assert np.array_equal(seq, run.gem_seq) and recs == run.records
    assert s2["runs"][0]["status"] == "complete"


def test_mechanism5_cross_delivery_state_survives_moving_the_data_tree(home, run, tmp_path, monkeypatch):
    n0, n1 = len(run.datagrams[956]), len(run.datagrams[957])
    s1 = deliver(
        "230401001", [datagram_packets(run, 956, range(n0 // 2)), datagram_packets(run, 957, range(n1 // 2))]
    )
    # migrate FERMI_HOME (as S3DF did) and lose the previous delivery's summary and merged files
    moved = tmp_path / "migrated"
    shutil.move(str(home), moved)
    monkeypatch.setenv("FERMI_HOME", str(moved))
    monkeypatch.setenv("FERMI_DB_URL", f"sqlite:///{moved / 'fermi.db'}")
    first = {f["path"]: (moved / f["path"]).read_bytes() for f in s1["runs"][0]["files"]}
    shutil.rmtree(moved / "runs")
    (moved / "halfpipe" / "deliveries" / "230401001.json").unlink()
    s2 = deliver(
        "230401002",
        [datagram_packets(run, 956, range(n0 // 2, n0)), datagram_packets(run, 957, range(n1 // 2, n1))],
    )
    assert s2["runs"][0]["status"] == "complete"
    for path, data in first.items():  # put delivery 1's files back to read the union
        (moved / path).parent.mkdir(parents=True, exist_ok=True)
        (moved / path).write_bytes(data)
    seq, recs = merged_outputs(moved, [s1, s2])
    assert np.array_equal(seq, run.gem_seq) and recs == run.records


def test_mechanism5_a_missing_stored_datagram_file_is_an_error_not_a_silent_loss(home, run):
    deliver("230401001", [run.packets(956)])
    store = next((home / "halfpipe" / "store").rglob("*.dgm"))
    store.unlink()
    with pytest.raises(HalfpipeError, match=f"stored datagrams .*{store.name} are missing"):
        deliver("230401002", [run.packets(957)])
    assert run_status()[0]["status"] == "open"  # nothing committed


def test_mechanism6_the_merge_lock_serialises_mergers_of_one_run(home, run):
    n0 = len(run.datagrams[956])
    deliver("230401000", [])  # creates the schema
    released = []

    def hold():
        with session_scope() as s:
            locks.lock_database(s, "operator")
            time.sleep(1.0)
            released.append(time.monotonic())

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.2)
    results, errors = {}, []

    def merge(dl, parts):
        try:
            results[dl] = (deliver(dl, parts), time.monotonic())
        except Exception as exc:  # pragma: no cover - reported by the assertion below
            errors.append(exc)

    t1 = threading.Thread(
        target=merge, args=("230401001", [datagram_packets(run, 956, range(n0 // 2)), run.packets(957)])
    )
    t2 = threading.Thread(target=merge, args=("230401002", [datagram_packets(run, 956, range(n0 // 2, n0))]))
    t1.start()
    t2.start()
    for t in (holder, t1, t2):
        t.join()
    assert errors == []
    assert all(done >= released[0] for _, done in results.values()), "a merge ran while the lock was held"
    seq, recs = merged_outputs(home, [s for s, _ in results.values()])
    assert np.array_equal(seq, run.gem_seq) and recs == run.records


def test_mechanism7_a_datagram_cut_by_the_delivery_boundary_is_rejoined(home):
    run = make_run(np.random.default_rng(9), 100, events_per_datagram=18)  # datagrams of 2 packets
    p0 = run.packets(956)
    cut = int(np.flatnonzero(p0.seq_flags == 1)[1]) + 1  # inside EPU0's second datagram
    s_tail = deliver("230401002", [part(p0, cut, len(p0)), run.packets(957)])  # the tail arrives first
    assert s_tail["fragments"] == {"joined": 0, "kept": 1}
    s_head = deliver("230401001", [part(p0, 0, cut)])
    assert s_head["fragments"]["joined"] == 1
    assert s_head["runs"][0]["status"] == "complete"
    seq, recs = merged_outputs(home, [s_tail, s_head])
    assert np.array_equal(seq, run.gem_seq) and recs == run.records
