"""Datagram layer: encode -> packets -> reassemble -> decode round trip, kernel vs reference, errors."""

import numpy as np
import pytest

from fermi_halfpipe import _kernels
from fermi_halfpipe.datagram import decode_datagrams, join_fragments, reassemble
from fermi_halfpipe.synthetic import make_run
from fermi_ingest.ccsds.decode import decode_buffer
from fermi_ingest.ccsds.encode import concatenate, encode_packets


def _decode_packets(cols, source="test.pkt"):
    t = decode_buffer(encode_packets(cols))
    return reassemble(
        t.apid, t.seq_flags, t.seq_count, t.sec, t.usec, t.buffer, t.payload_offset, t.payload_length, source
    )


@pytest.fixture(scope="module")
def run():
    return make_run(np.random.default_rng(7), 120, events_per_datagram=4)


def test_round_trip_recovers_every_record_byte_exact(run):
    ra = _decode_packets(concatenate([run.packets(956), run.packets(957)]))
    assert ra.fragments == []
    dec = decode_datagrams(ra.buffer, ra.offset, ra.length, ra.apid, ra.sec, ra.usec)
    assert dec.problems == []
    order = np.argsort(dec.events["gem_seq"], kind="stable")
    assert np.array_equal(dec.events["gem_seq"][order], run.gem_seq)
    got = [
        dec.buffer[o : o + n].tobytes()
        for o, n in zip(dec.events["offset"][order], dec.events["length"][order], strict=True)
    ]
    assert got == run.records
    # EPU of each event is its APID; the hardware sequence is the low 17 bits of the GEM sequence
    assert np.array_equal(dec.events["apid"][order] - 956, run.epu)
    assert np.array_equal(dec.events["hw_seq"], dec.events["gem_seq"].astype(np.int64) & 0x1FFFF)
    d = dec.datagrams
    assert d["open_action"][d["datagram_seq"] == 0].tolist() == [0, 0]
    assert sorted(d["close_action"][d["n_events"] >= 0].tolist()).count(0) == 2


def test_kernel_and_reference_agree(run):
    ra = _decode_packets(concatenate([run.packets(956), run.packets(957)]))
    buf = ra.buffer.copy()
    buf[ra.offset[3] + 32 + 96 + 4 + 3] ^= 0x01  # corrupt an event summary in datagram 3
    a = decode_datagrams(buf, ra.offset, ra.length, ra.apid, engine="numba")
    b = decode_datagrams(buf, ra.offset, ra.length, ra.apid, engine="reference")
    for k in a.events:
        assert np.array_equal(a.events[k], b.events[k]), k
    for k in a.datagrams:
        assert np.array_equal(a.datagrams[k], b.datagrams[k]), k
    assert a.problems == b.problems and len(a.problems) == 1


def test_event_time_uses_the_measured_pps_interval():
    run = make_run(np.random.default_rng(3), 10)
    ra = _decode_packets(run.packets(956))
    dec = decode_datagrams(ra.buffer, ra.offset, ra.length, ra.apid)
    ev = dec.events
    d_evt = (ev["trigger_ticks"].astype(np.int64) - ev["cur_tone_ticks"].astype(np.int64)) % (1 << 25)
    d_pps = (ev["cur_tone_ticks"].astype(np.int64) - ev["prev_tone_ticks"].astype(np.int64)) % (1 << 25)
    np.testing.assert_allclose(ev["event_time"], ev["cur_tone_sec"] + d_evt / d_pps)
    assert np.all((ev["event_time"] >= run.run) & (ev["event_time"] < run.run + 10))


@pytest.mark.parametrize(
    ("where", "code"),
    [
        (0, _kernels.DGM_BAD_IDENTITY),
        (5, _kernels.DGM_BAD_LENGTH),
        (27, _kernels.DGM_BAD_VERSION),
        (32, _kernels.DGM_BAD_EVENT_IDENTITY),
        (32 + 4, _kernels.DGM_BAD_EVENT_LENGTH),
        (32 + 96 + 3, _kernels.DGM_BAD_CONTRIBUTION),
        (32 + 96, _kernels.DGM_NO_GEM),
    ],
)
def test_malformed_datagram_is_reported_with_source_offset_and_reason(run, where, code):
    ra = _decode_packets(run.packets(956), source="230401001/x_000.pkt")
    buf = ra.buffer.copy()
    buf[ra.offset[1] + where] ^= 0x40
    dec = decode_datagrams(
        buf, ra.offset, ra.length, ra.apid, source=ra.source, source_offset=ra.source_offset
    )
    assert len(dec.problems) == 1
    p = dec.problems[0]
    assert p.code == code and p.source == "230401001/x_000.pkt" and p.source_offset == ra.source_offset[1]
    assert p.events_lost == dec.datagrams["n_events"][1] - dec.datagrams["n_decoded"][1] or code in (
        _kernels.DGM_BAD_IDENTITY,
        _kernels.DGM_BAD_LENGTH,
    )
    assert "230401001/x_000.pkt" in str(p) and p.reason in str(p)
    # the other datagrams are decoded in full
    assert dec.n_events >= sum(dec.datagrams["n_events"]) - dec.datagrams["n_events"][1] - 1


def test_datagram_split_across_deliveries_is_rejoined():
    run = make_run(np.random.default_rng(11), 90, events_per_datagram=90)  # > 4082 bytes: segmented
    cols = run.packets(956)
    assert len(cols) > 2
    first = _decode_packets(cols.take(np.arange(2)), "dl1")
    second = _decode_packets(cols.take(np.arange(2, len(cols))), "dl2")
    assert len(first) == 0 and len(second) == 0
    whole, rest = join_fragments(second.fragments + first.fragments)
    assert rest == [] and len(whole) == 1
    data = np.frombuffer(whole[0].data, np.uint8)
    dec = decode_datagrams(data, np.array([0]), np.array([data.size]), np.array([956]))
    assert dec.problems == [] and dec.n_events == int((run.epu == 0).sum())
    assert len(cols) >= 3  # the cut fell inside the datagram


def test_datagram_table_is_the_same_without_the_event_columns(run):
    ra = _decode_packets(concatenate([run.packets(956), run.packets(957)]))
    full = decode_datagrams(ra.buffer, ra.offset, ra.length, ra.apid, ra.sec, ra.usec)
    lean = decode_datagrams(ra.buffer, ra.offset, ra.length, ra.apid, ra.sec, ra.usec, event_columns=False)
    assert full.datagrams.keys() == lean.datagrams.keys()
    for k in full.datagrams:
        assert np.array_equal(full.datagrams[k], lean.datagrams[k]), k
    assert sorted(lean.events) == ["datagram", "gem_seq", "hw_seq", "length", "offset"]
    for k in lean.events:
        assert np.array_equal(full.events[k], lean.events[k]), k


def test_datagrams_spooled_then_stored_in_small_batches_decode_as_in_memory(run, tmp_path):
    from types import SimpleNamespace

    from fermi_core.site import Site
    from fermi_halfpipe.store import DatagramSpool, decode_stored, store_datagrams

    ra = _decode_packets(concatenate([run.packets(956), run.packets(957)]))
    memory = decode_datagrams(ra.buffer, ra.offset, ra.length, ra.apid)
    site = Site(tmp_path / "home", f"sqlite:///{tmp_path / 'fermi.db'}")
    keep = np.flatnonzero(memory.datagrams["apid"] == 957)[::-1]  # stored in another order than they lie
    with DatagramSpool(site) as spool:
        head = spool.append(ra.buffer[:100])  # spooled in two appends, one cut inside a datagram
        tail = spool.append(ra.buffer[100:])
        assert (head, tail, spool.size) == (0, 100, ra.buffer.size)
        path, offs = store_datagrams(
            site, "230401001", run.run, 957, spool, ra.offset[keep], ra.length[keep], budget=3000
        )
    assert list(site.halfpipe.iterdir()) == [site.halfpipe / "store"]  # the spool is gone
    rows = [
        SimpleNamespace(run_id=run.run, seq=k, apid=957, store_path=path, store_offset=int(o), length=int(n))
        for k, (o, n) in enumerate(zip(offs, ra.length[keep], strict=True))
    ][::2]
    disk = decode_stored(site, rows)
    sel = keep[::2]
    want = decode_datagrams(
        *(
            np.concatenate(
                [ra.buffer[o : o + n] for o, n in zip(ra.offset[sel], ra.length[sel], strict=True)]
            ),
        ),
        np.cumsum(ra.length[sel]) - ra.length[sel],
        ra.length[sel],
        ra.apid[sel],
    )
    assert disk.problems == want.problems == [] and disk.n_events > 0
    assert np.array_equal(disk.buffer, want.buffer)
    for k in disk.events:
        assert np.array_equal(disk.events[k], want.events[k]), k
