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
from fermi_latsim import detector, events, sky
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
    resp: detector.Response  # triggered events in time order, ``discarded`` zero
    other: np.ndarray  # times of the triggers rejected on board
    epu: np.ndarray  # (n,) int64 EPU of each triggered event
    truth: dict[str, np.ndarray]  # per triggered event: component, particle, energy_mev, ra, dec, theta


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
    resp = detector.respond(
        rng, arr.met, arr.body, arr.energy_mev, arr.particle == sky.PROTON, shared.dead, entry="volume"
    )
    n = len(resp)
    epu = np.asarray(st.epus, np.int64)[rng.integers(0, len(st.epus), n)] if n else np.zeros(0, np.int64)
    src = resp.source
    ra, dec = radec_deg(arr.direction[src]) if src.size else (np.zeros(0), np.zeros(0))
    truth = {
        "component": arr.component[src].astype(np.int16),
        "particle": arr.particle[src].astype(np.int16),
        "energy_mev": arr.energy_mev[src],
        "ra": ra,
        "dec": dec,
        "theta": np.degrees(np.arccos(np.clip(arr.body[src, 2], -1, 1))),
    }
    return StretchPhysics(st, resp, other, epu, truth)


_WORKER: Shared | None = None


def _init_worker(shared: Shared) -> None:
    global _WORKER
    _WORKER = shared


def _worker_physics(st: Stretch) -> StretchPhysics:
    assert _WORKER is not None
    return stretch_physics(_WORKER, st)


def physics(shared: Shared, todo: list[Stretch], workers: int = 1) -> Iterator[StretchPhysics]:
    """The physics of ``todo``, in order; with ``workers > 1`` in a process pool (same results).

    At most ``2 * workers`` stretches are in flight, so memory does not grow with ``todo``.
    """
    if workers <= 1:
        for st in todo:
            yield stretch_physics(shared, st)
        return
    if not todo:
        return
    # the first stretch here: the workers, forked after it, inherit the loaded numba kernels
    yield stretch_physics(shared, todo[0])
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(shared,)) as pool:
        pending = []
        it = iter(todo[1:])
        for st in itertools.islice(it, 2 * workers):
            pending.append(pool.submit(_worker_physics, st))
        while pending:
            done = pending.pop(0).result()
            nxt = next(it, None)
            if nxt is not None:
                pending.append(pool.submit(_worker_physics, nxt))
            yield done


@dataclass
class StretchEvents:
    """A stretch's events read out: records back to back, lengths and per-event columns."""

    records: np.ndarray
    lengths: np.ndarray
    columns: dict[str, np.ndarray]
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

    def add(self, ph: StretchPhysics) -> StretchEvents:
        """Read out the triggered events of the next stretch ``ph``."""
        keep_before = ph.resp
        n_lost0 = self.state.lost
        resp = detector.apply_dead_time(keep_before, ph.other, self.state)
        ok = np.isin(keep_before.source, resp.source)  # sources are unique and sorted
        h, gem, hw = events.event_headers(
            resp,
            self.run,
            gem_seq0=self.n_events,
            readouts_before=resp.readouts_before,
            dead_ticks=self.profile.dead_ticks,
            prev_elapsed=self.prev_elapsed,
        )
        records, lengths = events.event_records(resp, h, gem, hw)
        n = len(resp)
        cols = {
            "gem_seq": h["gem_seq"].astype(np.int64),
            "met": self.run + h["elapsed"].astype(np.int64) / NOMINAL_TICKS_PER_SECOND,
            "livetime_ticks": h["livetime"].astype(np.int64),
            "epu": ph.epu[ok],
            "conversion_plane": resp.conversion_plane.astype(np.int16),
            "cal_energy_mev": resp.cal_energy_mev,
            **{k: v[ok] for k, v in ph.truth.items()},
        }
        if n:
            self.prev_elapsed = int(h["elapsed"][-1])
        self.n_events += n
        return StretchEvents(
            records,
            lengths.astype(np.int64),
            cols,
            keep_before.n_arrivals,
            keep_before.n_not_triggered,
            self.state.lost - n_lost0,
        )
