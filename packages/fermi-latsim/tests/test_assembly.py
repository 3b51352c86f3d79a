"""Stretches encoded apart (in workers) and assembled in order give the bytes of a run simulated
in one sequence: the read-out dead time decided from each stretch's sync point on, the prefix
and the run's counters in the main process (fermi_latsim.flight); the kernels this takes
against their numpy twins; the packet bytes against fermi-ingest's encoder."""

from dataclasses import replace

import numpy as np
import pytest

from fermi_ingest.ccsds import encode_packets, segment_datagrams
from fermi_latsim import _kernels, _reference, detector, events, flight, geomag, sky, spacecraft, stream
from fermi_latsim import simulate as sim
from fermi_latsim.orbit import default_orbit
from fermi_latsim.profiles import PROFILES


@pytest.fixture(scope="module")
def shared():
    """The flight profile with half its charged particles and a quarter of its filtered triggers
    (cheaper), 1 ms of dead time per read-out and stretches of 0.5 s: many boundaries at which
    the first trigger of a stretch falls in the dead time of the stretch before."""
    prof = replace(
        PROFILES["flight"], charged_scale=40.0, filtered_rate_hz=500.0, dead_ticks=20_000, chunk_s=0.5
    )
    model = replace(sky.SkyModel(), cosmic_ray_rate_hz=sky.SkyModel().cosmic_ray_rate_hz * prof.charged_scale)
    orbit = default_orbit()
    start = float(np.floor(orbit.epoch_met)) + 20.0  # inside the second run from the TLE epoch
    tl = spacecraft.timeline(orbit, start, start + 40.0)
    factor = geomag.rate_factor(tl.met, tl.position, tl.lat_deg, tl.lon_deg, tl.in_saa)
    return flight.Shared(11, tl, factor, model, prof, detector.dead_strips())


def _sequential(shared, todo):
    """The records of the run read out stretch after stretch, the dead-time state carried."""
    prof = shared.profile
    state = detector.DeadTime(dead_s=prof.dead_s)
    n_events, prev, out, lengths = 0, 0, [], []
    for st in todo:
        ph = flight.stretch_physics(shared, st)
        resp = detector.apply_dead_time(ph.resp, ph.other, state)
        h, gem, hw = events.event_headers(
            resp, st.run, gem_seq0=n_events, readouts_before=resp.readouts_before,
            dead_ticks=prof.dead_ticks, prev_elapsed=prev,
        )  # fmt: skip
        rec, lens = events.event_records(resp, h, gem, hw)
        out.append(rec)
        lengths.append(lens)
        n_events += len(resp)
        prev = int(h["elapsed"][-1]) if len(resp) else prev
    return np.concatenate(out), np.concatenate(lengths), state


def test_assembled_stretches_are_the_sequential_run(shared):
    run = int(shared.tl.met[0]) - 20
    todo = flight.stretches(np.array([[run, shared.tl.met[-1]]], float), shared.profile, [(0, 1)])
    todo = [s for s in todo if s.start >= shared.tl.met[0]][:30]
    asm = flight.RunAssembler(run, shared.profile)
    n_dropped = 0
    parts, lens, epus = [], [], []
    for enc in flight.encoded(shared, todo):
        ok = _kernels.dead_time(enc.prefix_t, enc.prefix_other, asm.state.dead_s, asm.state.last, 0, 0)[0]
        n_dropped += int((~ok).sum())
        ev = asm.add(enc)
        # back to time order: the records are grouped by EPU
        at = np.concatenate([ev.epu_events[c] for c in sorted(ev.epu_events)]) if ev.epu_events else []
        pos = np.empty(len(at), np.int64)
        pos[np.asarray(at, np.int64)] = np.arange(len(at))
        parts.append(_kernels.gather_records(ev.records, ev.lengths, pos))
        lens.append(ev.lengths[pos])
        epus.append(ev.columns["epu"])
    records, lengths, state = _sequential(shared, todo)
    assert np.array_equal(np.concatenate(lens), lengths)
    assert np.array_equal(np.concatenate(parts), records)
    assert n_dropped > 0  # some prefix events fell in the dead time of the stretch before
    assert (asm.state.readouts, asm.state.lost, asm.state.last) == (state.readouts, state.lost, state.last)


def test_sync_point_kernel_matches_its_twin():
    rng = np.random.default_rng(4)
    for k in range(40):
        full = np.sort(rng.uniform(0, 0.002, rng.integers(0, 8)))
        other = np.sort(rng.uniform(0, 0.002, rng.integers(0, 30)))
        if k % 5 == 0 and full.size and other.size:
            other = np.sort(np.append(other, full[0]))  # a tie: the simulated event first
        a = _kernels.sync_point(full, other, 44.2e-6)
        assert a == _reference.sync_point(full, other, 44.2e-6)
        i, j = a
        if i + j < full.size + other.size:  # from the sync point on, any state gives the same
            for last in (-np.inf, min(full[:i].min(initial=np.inf), other[:j].min(initial=np.inf)) - 1e-5):
                base = _kernels.dead_time(full[i:], other[j:], 44.2e-6, -np.inf, 0, 0)
                whole = _kernels.dead_time(full, other, 44.2e-6, last, 0, 0)
                assert np.array_equal(whole[0][i:], base[0])


def test_patch_records_kernel_matches_its_twin(shared):
    enc = flight.encode_stretch(shared, flight.stretches(np.array([[shared.tl.met[0], shared.tl.met[0] + 1]]),
                                                         shared.profile, [(0, 1)])[0])  # fmt: skip
    n = enc.lengths.size
    assert n > 20
    rng = np.random.default_rng(2)
    values = [rng.integers(0, 2**40, n) for _ in range(3)] + [rng.integers(0, 65536, n)]
    a, b = enc.records.copy(), enc.records.copy()
    _kernels.patch_records(a, enc.lengths, *values, events.PATCH_FIELDS)
    _reference.patch_records(b, enc.lengths, *values, events.PATCH_FIELDS)
    assert np.array_equal(a, b) and not np.array_equal(a, enc.records)


def test_packet_bytes_are_those_of_fermi_ingest():
    rng = np.random.default_rng(6)
    dgms = [rng.integers(0, 256, int(s), dtype=np.uint8).tobytes() for s in rng.integers(0, 9000, 50)]
    cols = segment_datagrams(0x3C0, dgms, sec=rng.integers(0, 2**31, 50), usec=rng.integers(0, 10**6, 50))
    assert np.array_equal(stream.packet_bytes(cols), encode_packets(cols))
    heads = rng.integers(0, 256, (len(cols), 14), dtype=np.uint8)
    plen = np.asarray(cols.payload_length, np.int64)
    assert np.array_equal(
        _kernels.interleave_packets(heads, cols.payload, plen),
        _reference.interleave_packets(heads, cols.payload, plen),
    )


def test_default_workers():
    assert 1 <= sim.default_workers() <= 2


def test_unique_rows_is_np_unique():
    rng = np.random.default_rng(12)
    for n in (0, 1, 3000):
        table = np.zeros(n, detector.ACD_DTYPE)
        for name in table.dtype.names:
            table[name] = rng.integers(0, 3, n)  # many equal rows
        assert np.array_equal(detector.unique_rows(table), np.unique(table))
