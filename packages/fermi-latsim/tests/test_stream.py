"""The flight profile streamed (fermi_latsim.stream): the bytes of the at-once writer, the same
bytes in one or two processes, peak memory that does not grow with the span; the detector's
numba kernels against their numpy twins."""

import hashlib
import tracemalloc
from dataclasses import replace

import numpy as np
import pytest

from fermi_l1 import instrument as lat
from fermi_latsim import _kernels, _reference, detector
from fermi_latsim import simulate as sim
from fermi_latsim.profiles import PROFILES

HOURS = 0.03  # two runs from the TLE epoch, ~35 k events


def _digest(root):
    h = hashlib.sha256()
    for p in sorted(q for q in (root / "deliveries").rglob("*") if q.is_file()):  # manifests too
        h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


def _truth(root):
    import pyarrow.parquet as pq

    return pq.read_table(root / "truth" / "events.parquet")


@pytest.fixture(scope="module")
def streamed(tmp_path_factory):
    root = tmp_path_factory.mktemp("streamed")
    summary = sim.simulate(root, sim.SimulationConfig(hours=HOURS, seed=7, profile="flight"))
    return root, summary


def test_streamed_deliveries_are_those_of_the_at_once_writer(streamed, tmp_path, monkeypatch):
    root, summary = streamed
    assert len(summary["runs"]) >= 2 and len(summary["deliveries"]) >= 3  # merges across runs and cuts
    monkeypatch.setattr(sim, "_streamable", lambda faults: False)  # every packet, then write_deliveries
    at_once = sim.simulate(tmp_path / "b", sim.SimulationConfig(hours=HOURS, seed=7, profile="flight"))
    assert _digest(tmp_path / "b") == _digest(root)
    assert at_once["deliveries"] == summary["deliveries"]
    assert _truth(tmp_path / "b").equals(_truth(root))


def test_same_bytes_in_one_or_two_processes(streamed, tmp_path):
    root, summary = streamed
    two = sim.simulate(
        tmp_path / "w2", sim.SimulationConfig(hours=HOURS, seed=7, profile="flight", workers=2)
    )
    assert _digest(tmp_path / "w2") == _digest(root)
    assert two["events"] == summary["events"] and two["readouts"] == summary["readouts"]
    assert _truth(tmp_path / "w2").equals(_truth(root))


def _peak_bytes(out, hours, profile):
    tracemalloc.start()
    try:
        sim.simulate(out, sim.SimulationConfig(hours=hours, seed=3, profile=profile))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("streaming", [True, False])
def test_peak_memory_does_not_grow_with_the_span(tmp_path, monkeypatch, streaming):
    # the flight profile at a fifth of its charged-particle rate (the test costs a fifth)
    small = replace(PROFILES["flight"], name="small", charged_scale=16.0, filtered_rate_hz=400.0)
    monkeypatch.setitem(PROFILES, "small", small)
    if not streaming:  # the control: every packet at once, then write_deliveries
        monkeypatch.setattr(sim, "_streamable", lambda faults: False)
    # from the TLE epoch: a 3 s run, then one from +17 s; both spans have whole 30 s stretches
    short = _peak_bytes(tmp_path / "short", 0.02, "small")  # 72 s: 3 stretches
    long = _peak_bytes(tmp_path / "long", 0.06, "small")  # 216 s: 8 stretches, 3.5 times the events
    if streaming:
        assert long / short < 1.25, (short, long)
    else:  # the test can tell: holding every packet, the peak grows with the span
        assert long / short > 1.5, (short, long)


# ---------------------------------------------------------------------------------- kernels


def _strips_and_logs(rng, n):
    m = 20 * n
    s = {
        "event": rng.integers(0, n, m),
        "tower": rng.integers(0, lat.N_TOWERS, m),
        "plane": rng.integers(0, lat.N_TKR_PLANES, m),
        "view": rng.integers(0, lat.N_VIEWS, m),
    }
    # plus a track per event: 1-5 planes in a row in one tower, each view missed now and then
    length = rng.integers(1, 6, n)
    ev = np.repeat(np.arange(n), 2 * length)
    first = np.repeat(rng.integers(0, lat.N_TKR_PLANES - 5, n), 2 * length)
    k = np.concatenate([np.repeat(np.arange(j), 2) for j in length])
    track = {
        "event": ev,
        "tower": np.repeat(rng.integers(0, lat.N_TOWERS, n), 2 * length),
        "plane": first + k,
        "view": np.tile([0, 1], int(length.sum())),
    }
    kept = rng.random(ev.size) > 0.05
    s = {key: np.concatenate([s[key], track[key][kept]]).astype(np.int64) for key in s}
    k = 5 * n
    logs = {"event": rng.integers(0, n, k), "tower": rng.integers(0, lat.N_TOWERS, k)}
    return s, logs, rng.exponential(300.0, k)


def test_trigger_kernel_matches_its_twin():
    rng = np.random.default_rng(5)
    n = 300
    s, logs, log_e = _strips_and_logs(rng, n)
    args = (
        n,
        s["event"],
        s["tower"],
        s["plane"],
        s["view"],
        logs["event"],
        logs["tower"],
        log_e,
        100.0,
        1000.0,
    )
    a, b = _kernels.trigger_vectors(*args), _reference.trigger_vectors(*args)
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype == np.uint16
        assert np.array_equal(x, y)
    assert (a[0] > 0).any() and (a[0] == 0).any() and (a[2] > 0).any()  # both outcomes exercised


@pytest.mark.parametrize("spread", [0.0, detector.SHOWER_SPREAD])
def test_cal_entries_kernel_matches_its_twin(spread):
    rng = np.random.default_rng(8)
    m = 500
    z = rng.uniform(0.0, 1.0, m)  # some parallel to the layers (z = 0 included below)
    z[:5] = 0.0
    phi = rng.uniform(0, 2 * np.pi, m)
    axis = -np.column_stack([np.sqrt(1 - z * z) * np.cos(phi), np.sqrt(1 - z * z) * np.sin(phi), z])
    vertex = np.column_stack(
        [rng.uniform(-900, 900, m), rng.uniform(-900, 900, m), rng.uniform(-40.0, 600.0, m)]
    )
    energy = rng.exponential(50.0, (m, lat.N_CAL_LAYERS))
    energy[rng.random((m, lat.N_CAL_LAYERS)) < 0.1] = 0.0
    event = np.sort(rng.integers(0, 200, m)).astype(np.int64)
    args = (
        event, vertex, axis, energy, spread, np.ascontiguousarray(lat.CAL_LAYER_Z_MM),
        np.asarray(detector.CAL_DEPTH_STEPS), float(lat.CAL_LOG_HEIGHT_MM),
    )  # fmt: skip
    a, b = _kernels.cal_entries(*args), _reference.cal_entries(*args)
    assert a[0].size > 1000
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype
        assert np.array_equal(x, y)


@pytest.mark.parametrize("scatter", [False, True])
def test_track_hits_kernel_matches_its_twin(scatter):
    rng = np.random.default_rng(9)
    m = 400
    z = rng.uniform(0.3, 1.0, m)
    phi = rng.uniform(0, 2 * np.pi, m)
    direction = -np.column_stack([np.sqrt(1 - z * z) * np.cos(phi), np.sqrt(1 - z * z) * np.sin(phi), z])
    start = detector.entry_points(rng, direction)
    first = rng.integers(0, lat.N_TKR_PLANES, m) if scatter else np.zeros(m, np.int64)
    shape = (m, lat.N_TKR_PLANES, lat.N_VIEWS)
    args = (
        np.arange(m, dtype=np.int64), start, direction, first.astype(np.int64), rng.exponential(300.0, m),
        scatter, rng.random(shape, dtype=np.float32),
        rng.normal(0.0, 1.0, (m, lat.N_TKR_PLANES, 2)), np.ascontiguousarray(lat.TKR_LAYER_Z_MM),
        detector.PLANE_X0_BELOW, detector.NEIGHBOUR_PROB,
    )  # fmt: skip
    a, b = _kernels.track_hits(*args), _reference.track_hits(*args)
    assert a.size > 5000 and a.dtype == b.dtype == np.int64
    assert np.array_equal(np.sort(a), np.sort(b))  # same hits, in another order
    rec = detector.strip_table(a)  # the key is the detector's event-strip key
    assert np.array_equal(
        detector.event_strip_key(rec["event"], rec["tower"], rec["plane"], rec["view"], rec["strip"]), a
    )


def test_gather_records_kernel_matches_its_twin():
    rng = np.random.default_rng(3)
    lengths = rng.integers(100, 400, 1000).astype(np.int64)
    records = rng.integers(0, 256, int(lengths.sum()), dtype=np.uint8)
    sel = np.flatnonzero(rng.random(1000) < 0.5).astype(np.int64)
    a, b = _kernels.gather_records(records, lengths, sel), _reference.gather_records(records, lengths, sel)
    assert a.dtype == b.dtype == np.uint8 and a.size == lengths[sel].sum()
    assert np.array_equal(a, b)
