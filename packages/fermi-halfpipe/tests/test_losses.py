"""Events held by missing datagrams: counted from the GEM sequence, reported by status and summary."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from fermi_halfpipe.cli import main
from fermi_halfpipe.stitch import force_complete, run_status
from fermi_halfpipe.synthetic import SyntheticRun, make_run
from fermi_halfpipe.testing import datagram_packets, deliver, events_of


def _walk(dgm: bytes):
    """(offset, length) of each event of a datagram."""
    n, off = int.from_bytes(dgm[28:32], "big"), 32
    for _ in range(n):
        ln = int.from_bytes(dgm[off + 4 : off + 8], "big")
        yield off, ln
        off += ln


def contiguous(run: SyntheticRun) -> SyntheticRun:
    """The run with its GEM sequence renumbered 0, 1, 2 ... (no trigger dropped on board)."""
    rank = {int(g): k for k, g in enumerate(run.gem_seq)}
    dgms = {}
    for apid, lst in run.datagrams.items():
        out = []
        for d in lst:
            b = bytearray(d)
            for off, _ in _walk(d):
                b[off + 8 : off + 16] = rank[int.from_bytes(d[off + 8 : off + 16], "big")].to_bytes(8, "big")
            out.append(bytes(b))
        dgms[apid] = out
    return dataclasses.replace(run, datagrams=dgms, gem_seq=np.arange(len(run.gem_seq), dtype=np.uint64))


@pytest.fixture(scope="module")
def run():
    return contiguous(make_run(np.random.default_rng(5), 200, events_per_datagram=5))


def _without(run, drop: dict[int, list[int]]):
    return [datagram_packets(run, a, [k for k in range(len(run.datagrams[a])) if k not in drop.get(a, [])])
            for a in run.apids]  # fmt: skip


def test_events_of_missing_datagrams_are_counted_exactly_when_every_gem_number_is_sent(home, run):
    s = deliver("230401001", _without(run, {956: [3, 4], 957: [10]}))
    (r,) = s["runs"]
    truth = events_of(run, 956, [3, 4]) + events_of(run, 957, [10])
    assert r["lost_in_missing"] == truth > 0 and r["lost_exact"] and not r["lost_lower_bound"]
    assert r["downlink_fraction"] == 1.0
    assert [(h["apid"], h["datagrams"], h["events"]) for h in r["holes"]] == [
        (956, [3, 4], events_of(run, 956, [3, 4])),
        (957, [10, 10], events_of(run, 957, [10])),
    ]
    (st,) = run_status(run.run)
    assert st["delivered"] + st["held_back"] + st["lost_in_missing"] == 200
    assert {k: st[k] for k in ("lost_in_missing", "holes")} == {k: r[k] for k in ("lost_in_missing", "holes")}
    on_disk = json.loads((home / "halfpipe" / "deliveries" / "230401001.json").read_text())
    assert on_disk["runs"][0]["lost_in_missing"] == truth


def test_overlapping_holes_of_both_epus_count_each_event_once(home, run):
    (r,) = deliver("230401001", _without(run, {956: [3, 4, 5], 957: [3, 4, 5]}))["runs"]
    truth = events_of(run, 956, [3, 4, 5]) + events_of(run, 957, [3, 4, 5])
    assert r["lost_in_missing"] == truth and r["lost_exact"]
    assert all(h["shared"] for h in r["holes"])
    assert sum(h["events"] for h in r["holes"]) > truth  # per hole the shared GEM numbers count twice


def test_a_missing_run_end_gives_a_lower_bound(home, run):
    n1 = len(run.datagrams[957])
    (r,) = deliver("230401001", _without(run, {957: [n1 - 2, n1 - 1]}))["runs"]
    truth = events_of(run, 957, [n1 - 2, n1 - 1])
    assert r["lost_lower_bound"] and not r["lost_exact"]
    assert 0 < r["lost_in_missing"] <= truth
    assert r["holes"][-1]["datagrams"] == [n1 - 2, None] and r["holes"][-1]["open_end"]
    # the operator gives up the run: its count stays in the status, its events are all accounted for
    force_complete(run.run, "EPU1 tail lost")
    (st,) = run_status(run.run)
    assert st["status"] == "incomplete" and st["delivered"] + st["lost_in_missing"] <= 200


def test_events_the_decoder_could_not_read_are_not_counted_twice(home, run):
    cut = datagram_packets(run, 956, [2])
    off, _ = list(_walk(run.datagrams[956][2]))[2]  # third event of datagram 2: identity broken
    cut.payload = cut.payload.copy()
    cut.payload[off : off + 4] = 0
    parts = [*_without(run, {956: [2, 3, 4]}), cut]
    (r,) = deliver("230401001", parts)["runs"]
    n2 = events_of(run, 956, [2])
    assert r["lost_in_malformed"] == n2 - 2
    assert r["lost_in_missing"] == events_of(run, 956, [3, 4]) and r["lost_exact"]


def test_with_an_on_board_filter_the_count_is_an_estimate(home):
    run = make_run(np.random.default_rng(7), 600, events_per_datagram=10)  # GEM numbers skipped
    (r,) = deliver("230401001", _without(run, {956: list(range(5, 10))}))["runs"]
    truth = events_of(run, 956, range(5, 10))
    sent = 600 / (int(run.gem_seq[-1]) + 1)
    assert not r["lost_exact"] and not r["lost_lower_bound"]
    assert r["downlink_fraction"] == pytest.approx(sent, abs=0.05)
    assert abs(r["lost_in_missing"] - truth) <= 0.3 * truth, (r["lost_in_missing"], truth)


def test_status_prints_what_the_missing_datagrams_held(home, run, capsys):
    deliver("230401001", _without(run, {956: [3, 4]}))
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    n = events_of(run, 956, [3, 4])
    assert f"in missing datagrams {n}" in out
    assert "missing: APID 956: datagrams 3-4 missing" in out
    assert "lost: APID 956 datagrams 3-4: GEM " in out and f", {n} events" in out
    assert main(["status", str(run.run), "--json"]) == 0
    (st,) = json.loads(capsys.readouterr().out)
    assert st["lost_in_missing"] == n and st["holes"][0]["gem"][1] - st["holes"][0]["gem"][0] + 1 >= n
