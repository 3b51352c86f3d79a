"""Late data: packets of an earlier delivery arriving in a later one, anywhere in its files."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from fermi_core.db import session_scope
from fermi_core.site import Site
from fermi_ingest import synthetic as sy
from fermi_ingest.ingest import ingest
from fermi_ingest.models import Delivery, Gap, QuarantinedSpan
from fermi_ingest.published import accepted_packets

RUN = 600_000_000
N = 60  # datagrams per EPU, one a second


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.setenv("FERMI_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FERMI_DB_URL", raising=False)
    return Site(tmp_path / "home")


def _stream():
    return sy.interleave(
        [
            sy.event_stream(956, RUN, N, float(RUN), seed=1, body_bytes=6000),  # two packets a datagram
            sy.event_stream(957, RUN, N, RUN + 0.3, seed=2, body_bytes=600),
            sy.spacecraft_stream(float(RUN), N),
        ]
    )


def _parts(cols, block_datagrams=range(8, 12)):
    """Indices of deliveries 1-3 (20 s each) and of the late block (EPU0 datagrams of delivery 1)."""
    t = cols.sec - RUN
    block = np.flatnonzero((cols.apid == 956) & np.isin(t, list(block_datagrams)))
    d = [np.flatnonzero((t >= 20 * k) & (t < 20 * (k + 1))) for k in range(3)]
    d[0] = np.setdiff1d(d[0], block)
    return d, block


def _gaps(site):
    with session_scope(site.db_url) as s:
        names = {d.id: d.delivery_id for d in s.scalars(select(Delivery))}
        return [
            (g.apid, g.kind, g.missing, g.status, names.get(g.filled_by_pk))
            for g in s.scalars(select(Gap).order_by(Gap.id))
        ]


def _quarantine(site):
    with session_scope(site.db_url) as s:
        return [(q.reason, q.apid) for q in s.scalars(select(QuarantinedSpan))]


def _keys(site, delivery_id):
    with session_scope(site.db_url) as s:
        pk = accepted_packets(s, site, delivery_id)
    return set(zip(pk.apid.tolist(), pk.seq_count.tolist(), strict=True))


@pytest.mark.parametrize("placement", ["own-delivery", "start", "middle", "end", "extra-file"])
def test_late_block_fills_its_sequence_and_datagram_gap(placement, site, tmp_path):
    cols = _stream()
    d, block = _parts(cols)
    files = [[cols.take(d[0])], [cols.take(d[1])], [cols.take(d[2])]]
    third = d[2]
    at = third.size // 2
    if placement == "start":
        files[2] = [cols.take(np.concatenate([block, third]))]
    elif placement == "middle":
        files[2] = [cols.take(np.concatenate([third[:at], block, third[at:]]))]
    elif placement == "end":
        files[2] = [cols.take(np.concatenate([third, block]))]
    elif placement == "extra-file":
        files[2] = [cols.take(third), cols.take(block)]
    else:
        files.append([cols.take(block)])
    ids = [f"2304200{k + 1:02d}" for k in range(len(files))]
    for did, parts in zip(ids, files, strict=True):
        sy.write_delivery(tmp_path / did, did, parts)
    first = ingest(tmp_path / ids[0])
    assert len(first.gaps) == 2  # the block is missing: a sequence gap and a datagram gap of APID 956
    assert _gaps(site) == [(956, "sequence", block.size, "open", None), (956, "datagram", 4, "open", None)]
    results = [ingest(tmp_path / did) for did in ids[1:]]
    late = results[-1]
    assert late.gaps == [] and late.quarantined == [] and late.filled_gaps == 2
    assert _gaps(site) == [
        (956, "sequence", block.size, "filled", ids[-1]),
        (956, "datagram", 4, "filled", ids[-1]),
    ]
    assert _quarantine(site) == []
    # the late packets are published with the delivery that brought them
    got = _keys(site, ids[-1])
    want = {(int(a), int(q)) for a, q in zip(cols.apid[block], cols.seq_count[block], strict=True)}
    assert want <= got
    assert sum(len(_keys(site, did)) for did in ids) == len(cols)


def test_late_block_that_fills_part_of_a_gap_leaves_the_rest_open(site, tmp_path):
    cols = _stream()
    d, block = _parts(cols)
    brought = block[(cols.sec[block] - RUN) >= 10]  # datagrams 10 and 11 of 8-11
    sy.write_delivery(tmp_path / "a", "230421001", [cols.take(d[0])])
    sy.write_delivery(tmp_path / "b", "230421002", [cols.take(np.concatenate([d[1], brought]))])
    ingest(tmp_path / "a")
    res = ingest(tmp_path / "b")
    assert res.filled_gaps == 2 and res.quarantined == []
    assert [g[:4] for g in _gaps(site)] == [
        (956, "sequence", block.size, "filled"),
        (956, "datagram", 4, "filled"),
        (956, "sequence", block.size - brought.size, "open"),
        (956, "datagram", 2, "open"),
    ]


def test_duplicates_stay_duplicates_beside_late_packets(site, tmp_path):
    cols = _stream()
    d, block = _parts(cols)
    again = d[0][-6:]  # already delivered with delivery 1
    sy.write_delivery(tmp_path / "a", "230422001", [cols.take(d[0])])
    sy.write_delivery(tmp_path / "b", "230422002", [cols.take(np.concatenate([again, d[1], block]))])
    ingest(tmp_path / "a")
    res = ingest(tmp_path / "b")
    assert res.gaps == [] and res.filled_gaps == 2
    assert sorted(_quarantine(site)) == sorted(("duplicate", int(a)) for a in cols.apid[again])
    # a late packet sent twice in one delivery: the second copy is a duplicate
    sy.write_delivery(tmp_path / "c", "230422003", [cols.take(np.concatenate([d[2], d[2][:1]]))])
    assert [q.split(": ")[-1].split(" ")[0] for q in ingest(tmp_path / "c").quarantined] == ["duplicate"]


def test_packets_out_of_order_at_the_start_give_no_spurious_gap(site, tmp_path):
    """A delivery starting with its APIDs' datagrams out of time order (and so out of counter order)."""
    cols = _stream()
    d, _ = _parts(cols, block_datagrams=())
    second = d[1].copy()
    t = cols.sec[second] - RUN
    first3 = [second[(cols.apid[second] == apid) & (t == k)] for apid in (957, 956) for k in (22, 21, 20)]
    head = np.concatenate(first3)  # EPU1 first, each APID's first three datagrams backwards
    second = np.concatenate([head, np.setdiff1d(second, head)])
    sy.write_delivery(tmp_path / "a", "230423001", [cols.take(d[0])])
    sy.write_delivery(tmp_path / "b", "230423002", [cols.take(second)])
    sy.write_delivery(tmp_path / "c", "230423003", [cols.take(d[2])])
    for x in "abc":
        res = ingest(tmp_path / x)
        assert res.gaps == [] and res.quarantined == []
    assert _gaps(site) == []


def test_a_packet_inside_data_already_received_without_a_gap_is_out_of_order(site, tmp_path):
    cols = _stream()
    d, _ = _parts(cols, block_datagrams=())
    sy.write_delivery(tmp_path / "a", "230424001", [cols.take(d[0])])
    ingest(tmp_path / "a")
    i = d[0][np.flatnonzero(cols.apid[d[0]] == 957)[5]]
    stray = cols.take(np.array([i]))
    stray.seq_count = (np.asarray(stray.seq_count) + 1000) % 16384  # a count that fits nowhere
    sy.write_delivery(tmp_path / "b", "230424002", [stray, cols.take(d[1])])
    res = ingest(tmp_path / "b")
    assert res.gaps == []
    assert _quarantine(site) == [("out of order", 957)]
