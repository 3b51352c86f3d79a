"""Runs at a profile's rates, simulated in stretches of ``Profile.chunk_s`` (bounded memory).

A stretch's physics (:func:`stretch_physics`: the sky and charged particles arriving, their rate
modulated along the orbit, the triggers the on-board filter rejects (times only), the triggered
detector response and the EPU of each triggered event) depends only on its own random stream,
seeded from ``(seed, run, stretch)``: stretches can be simulated in any order, in any number of
processes, and give the same bytes. What carries from one stretch to the next, the read-out dead
time (:class:`fermi_latsim.detector.DeadTime`), the GEM sequence and the livetime counter, is
applied in time order by :class:`RunAssembler`, which turns each stretch into event records. The
livetime counter of every event is its elapsed time less the dead time of all read-outs before it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from fermi_halfpipe.format import NOMINAL_TICKS_PER_SECOND
from fermi_latsim import _kernels, detector, events, sky
from fermi_latsim.attitude import radec_deg
from fermi_latsim.profiles import Profile
from fermi_latsim.spacecraft import SpacecraftTimeline


@dataclass(frozen=True)
class Stretch:
    """One stretch ``[start, stop)`` of a run: its place (run, index) and the run's EPUs."""

    run: int
    index: int
    start: float
    stop: float
    epus: tuple[int, ...]


@dataclass
class StretchPhysics:
    """What a stretch's physics gives: triggered events (before dead time) and their truth."""

    stretch: Stretch
    triggered: detector.Triggered  # every particle's response, and those that triggered
    other: np.ndarray  # times of the triggers rejected on board
    epu: np.ndarray  # (n,) int64 EPU of each triggered event
    truth: dict[str, np.ndarray]  # per triggered event: component, particle, energy_mev, ra, dec, theta

    @property
    def resp(self) -> detector.Response:
        """The triggered events in time order (``discarded`` zero)."""
        return self.triggered.response()


@dataclass
class Shared:
    """What every stretch needs (sent once to each worker process)."""

    seed: int
    tl: SpacecraftTimeline
    factor: np.ndarray  # charged-particle rate factor per timeline sample (faults included)
    model: sky.SkyModel
    profile: Profile
    dead: np.ndarray


def stretches(runs: np.ndarray, profile: Profile, epus_of_run: list[tuple[int, ...]]) -> list[Stretch]:
    """The stretches of every run ``[t0, t1)`` (``run = int(t0)``), in time order."""
    out = []
    for (t0, t1), epus in zip(runs, epus_of_run, strict=True):
        lo, hi = t0 + 1e-3, t1 - 1e-3
        step = profile.chunk_s if profile.chunk_s > 0 else hi - lo
        edges = np.append(np.arange(lo, hi, step), hi)
        for k, (c0, c1) in enumerate(itertools.pairwise(edges)):
            out.append(Stretch(int(t0), k, float(c0), float(c1), tuple(epus)))
    return out


def stretch_physics(shared: Shared, st: Stretch) -> StretchPhysics:
    """Simulate the physics of one stretch from its own random stream ``(seed, run, index)``."""
    rng = np.random.default_rng([shared.seed, st.run, st.index])
    prof, tl = shared.profile, shared.tl
    cf = shared.factor if prof.modulated else None
    arr = sky.sample_arrivals(
        rng, tl.met, tl.attitude.quaternion, tl.position, st.start, st.stop, shared.model, charged_factor=cf
    )
    rate = prof.filtered_rate_hz
    other = np.zeros(0)
    if rate > 0:
        f = shared.factor if prof.modulated else np.ones_like(shared.factor)
        other = sky.modulated_times(rng, tl.met, f, st.start, st.stop, rate)
    trig = detector.trigger(
        rng, arr.met, arr.body, arr.energy_mev, arr.particle == sky.PROTON, shared.dead, entry="volume"
    )
    n = trig.cand.size
    epu = np.asarray(st.epus, np.int64)[rng.integers(0, len(st.epus), n)] if n else np.zeros(0, np.int64)
    src = trig.cand
    ra, dec = radec_deg(arr.direction[src]) if src.size else (np.zeros(0), np.zeros(0))
    truth = {
        "component": arr.component[src].astype(np.int16),
        "particle": arr.particle[src].astype(np.int16),
        "energy_mev": arr.energy_mev[src],
        "ra": ra,
        "dec": dec,
        "theta": np.degrees(np.arccos(np.clip(arr.body[src, 2], -1, 1))),
    }
    return StretchPhysics(st, trig, other, epu, truth)


@dataclass
class EncodedStretch:
    """A stretch read out and encoded as far as it can be without the stretches before it.

    The read-out dead time is decided in the stretch from its sync point on
    (:func:`fermi_latsim._kernels.sync_point`): the triggers before it (the prefix, usually one)
    depend on the run's dead-time state and are decided by :meth:`RunAssembler.add`; the
    counters that carry from stretch to stretch (GEM sequence, read-outs and triggers discarded
    before each event) are written into the records there
    (:func:`fermi_latsim._kernels.patch_records`). The records are grouped by EPU (each EPU's
    in time order); the per-event arrays are in time order.
    """

    stretch: Stretch
    records: np.ndarray  # event records back to back, grouped by EPU: events ``order``
    lengths: np.ndarray  # (n,) bytes of each record, in the same order
    order: np.ndarray  # (n,) event (time order) of each record
    elapsed: np.ndarray  # (n,) ticks since the run start
    columns: dict[str, np.ndarray]  # per event: met, epu, conversion plane, CAL energy, truth
    prefix_t: np.ndarray  # trigger times of the first ``prefix_t.size`` events (the prefix)
    prefix_other: np.ndarray  # times of the triggers rejected on board in the prefix
    before: np.ndarray  # per event after the prefix: read-outs since the sync point before it
    lost: np.ndarray  # per event after the prefix: triggers discarded since the sync point up to it
    readouts: int  # read-outs from the sync point on
    n_lost: int  # triggers discarded from the sync point on
    last: float  # time of the last read-out (-inf: none from the sync point on)
    n_arrivals: int
    n_not_triggered: int


def encode_stretch(shared: Shared, st: Stretch) -> EncodedStretch:
    """The physics of ``st`` (:func:`stretch_physics`) read out and encoded (see :class:`EncodedStretch`)."""
    ph = stretch_physics(shared, st)
    trig, prof = ph.triggered, shared.profile
    full_t = np.ascontiguousarray(trig.met[trig.cand], np.float64)
    other = np.ascontiguousarray(ph.other, np.float64)
    i, j = _kernels.sync_point(full_t, other, prof.dead_s)
    ok, before, lost_at, last, readouts, lost = _kernels.dead_time(
        full_t[i:], other[j:], prof.dead_s, -np.inf, 0, 0
    )
    post = np.flatnonzero(ok)
    keep = np.concatenate([np.arange(i, dtype=np.int64), i + post])
    sub = trig.response(keep)  # the triggered events read out or in the prefix
    h, gem, hw = events.event_headers(sub, st.run, dead_ticks=prof.dead_ticks)  # counters: patched later
    records, lengths = events.event_records(sub, h, gem, hw)
    epu = ph.epu[keep]
    order = np.argsort(epu, kind="stable")
    elapsed = h["elapsed"].astype(np.int64)
    return EncodedStretch(
        stretch=st,
        records=_kernels.gather_records(records, lengths, order),
        lengths=lengths[order],
        order=order,
        elapsed=elapsed,
        columns={
            "met": st.run + elapsed / NOMINAL_TICKS_PER_SECOND,
            "epu": epu,
            "conversion_plane": sub.conversion_plane.astype(np.int16),
            "cal_energy_mev": sub.cal_energy_mev,
            **{k: v[keep] for k, v in ph.truth.items()},
        },
        prefix_t=full_t[:i],
        prefix_other=other[:j],
        before=before[post],
        lost=lost_at[post],
        readouts=int(readouts),
        n_lost=int(lost),
        last=float(last),
        n_arrivals=sub.n_arrivals,
        n_not_triggered=sub.n_not_triggered,
    )


_WORKER: Shared | None = None


def _init_worker(shared: Shared) -> None:
    global _WORKER
    _WORKER = shared


def _worker_encode(st: Stretch) -> EncodedStretch:
    assert _WORKER is not None
    return encode_stretch(_WORKER, st)


def encoded(shared: Shared, todo: list[Stretch], workers: int = 1) -> Iterator[EncodedStretch]:
    """:func:`encode_stretch` of ``todo``, in order; with ``workers > 1`` in a process pool
    (same results).

    At most ``2 * workers`` stretches are in flight, so memory does not grow with ``todo``.
    """
    if workers <= 1:
        for st in todo:
            yield encode_stretch(shared, st)
        return
    if not todo:
        return
    # the first stretch here: the workers, forked after it, inherit the loaded numba kernels
    yield encode_stretch(shared, todo[0])
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(shared,)) as pool:
        pending = []
        it = iter(todo[1:])
        for st in itertools.islice(it, 2 * workers):
            pending.append(pool.submit(_worker_encode, st))
        while pending:
            done = pending.pop(0).result()
            nxt = next(it, None)
            if nxt is not None:
                pending.append(pool.submit(_worker_encode, nxt))
            yield done


@dataclass
class StretchEvents:
    """A stretch's events read out: records grouped by EPU, per-EPU slices, per-event columns."""

    records: np.ndarray  # grouped by EPU (each EPU's events in time order)
    lengths: np.ndarray
    epu_slices: dict[int, tuple[int, int]]  # EPU -> [first, stop) of its records in ``records``
    epu_events: dict[int, np.ndarray]  # EPU -> its events (positions in ``columns``), time order
    columns: dict[str, np.ndarray]  # time order
    n_arrivals: int
    n_not_triggered: int
    n_dead: int


class RunAssembler:
    """Applies the run's read-out dead time, GEM sequence and livetime to its stretches in order."""

    def __init__(self, run: int, profile: Profile) -> None:
        self.run = run
        self.profile = profile
        self.state = detector.DeadTime(dead_s=profile.dead_s)
        self.n_events = 0
        self.prev_elapsed = 0

    def add(self, enc: EncodedStretch) -> StretchEvents:
        """Read out the events of the next stretch ``enc``: decide its prefix, write the counters."""
        state = self.state
        n_lost0 = state.lost
        ok_p, before_p, lost_p, last, readouts, lost = _kernels.dead_time(
            enc.prefix_t, enc.prefix_other, state.dead_s, state.last, state.readouts, state.lost
        )
        state.last = enc.last if enc.readouts else float(last)
        state.readouts = int(readouts) + enc.readouts
        state.lost = int(lost) + enc.n_lost
        records, lengths, order, elapsed, cols = enc.records, enc.lengths, enc.order, enc.elapsed, enc.columns
        n_pre = enc.prefix_t.size
        before = np.concatenate([before_p[ok_p], readouts + enc.before])
        discarded = np.concatenate([lost_p[ok_p], lost + enc.lost])
        if not ok_p.all():  # prefix events lost in the dead time of the stretch before
            keep = np.concatenate([ok_p, np.ones(elapsed.size - n_pre, bool)])
            new_index = np.cumsum(keep) - 1
            at = np.flatnonzero(keep[order])  # records kept, grouped by EPU as before
            records = _kernels.gather_records(records, lengths, at)
            lengths, order = lengths[at], new_index[order[at]]
            elapsed = elapsed[keep]
            cols = {k: v[keep] for k, v in cols.items()}
        n = elapsed.size
        gem_seq = self.n_events + np.arange(n, dtype=np.int64)
        livetime = elapsed - self.profile.dead_ticks * before
        delta = np.minimum(np.diff(elapsed, prepend=self.prev_elapsed), 65535)
        _kernels.patch_records(
            records, lengths, gem_seq[order], livetime[order], discarded[order], delta[order],
            events.PATCH_FIELDS,
        )  # fmt: skip
        epu = cols["epu"]
        grouped = epu[order]
        slices, ev_of = {}, {}
        for c in np.unique(grouped).tolist():
            a, b = np.searchsorted(grouped, c), np.searchsorted(grouped, c, side="right")
            slices[c], ev_of[c] = (int(a), int(b)), order[a:b]
        cols = {"gem_seq": gem_seq, "livetime_ticks": livetime, **cols}
        if n:
            self.prev_elapsed = int(elapsed[-1])
        self.n_events += n
        return StretchEvents(
            records, lengths.astype(np.int64), slices, ev_of, cols, enc.n_arrivals, enc.n_not_triggered,
            state.lost - n_lost0,
        )  # fmt: skip
