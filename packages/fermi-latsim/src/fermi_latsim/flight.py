"""One run at a profile's rates, simulated in stretches of ``Profile.chunk_s`` (bounded memory).

Per stretch: the sky and charged particles arriving (their rate modulated along the orbit), the
triggers the on-board filter rejects (times only), the detector response with the read-out dead
time of both (:class:`fermi_latsim.detector.DeadTime`, carried from stretch to stretch), and the
event records. Per run: the records go to the EPUs and are cut into datagrams. The livetime
counter of every event is its elapsed time less the dead time of all read-outs before it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from fermi_halfpipe.datagram import DatagramContext
from fermi_halfpipe.format import NOMINAL_TICKS_PER_SECOND
from fermi_halfpipe.keys import ConfigKeys
from fermi_latsim import detector, events, sky
from fermi_latsim.attitude import radec_deg
from fermi_latsim.profiles import Profile
from fermi_latsim.spacecraft import SpacecraftTimeline


@dataclass
class RunStream:
    """The encoded events of one run, per stretch (records back to back and per-event columns)."""

    records: list[np.ndarray] = field(default_factory=list)
    columns: dict[str, list[np.ndarray]] = field(default_factory=dict)
    n_arrivals: int = 0
    n_not_triggered: int = 0
    n_dead: int = 0
    readouts: int = 0
    lost: int = 0

    def add(self, **cols: np.ndarray) -> None:
        for k, v in cols.items():
            self.columns.setdefault(k, []).append(v)

    def column(self, name: str, dtype: object = None) -> np.ndarray:
        parts = self.columns.get(name, [])
        return np.concatenate(parts) if parts else np.zeros(0, dtype or np.float64)


def simulate_run(
    rng: np.random.Generator,
    tl: SpacecraftTimeline,
    factor: np.ndarray,
    t0: float,
    t1: float,
    model: sky.SkyModel,
    profile: Profile,
    dead: np.ndarray,
    epus: tuple[int, ...],
) -> RunStream:
    """Simulate the run ``[t0, t1)`` (``run = int(t0)``) stretch by stretch into a :class:`RunStream`."""
    run = int(t0)
    lo, hi = t0 + 1e-3, t1 - 1e-3
    step = profile.chunk_s if profile.chunk_s > 0 else hi - lo
    edges = np.append(np.arange(lo, hi, step), hi)
    state = detector.DeadTime(dead_s=profile.dead_s)
    out = RunStream()
    n_events = 0
    prev_elapsed = 0
    cf = factor if profile.modulated else None
    for c0, c1 in itertools.pairwise(edges):
        arr = sky.sample_arrivals(
            rng, tl.met, tl.attitude.quaternion, tl.position, c0, c1, model, charged_factor=cf
        )
        rate = profile.filtered_rate_hz
        other = (
            sky.modulated_times(
                rng, tl.met, factor if profile.modulated else np.ones_like(factor), c0, c1, rate
            )
            if rate > 0
            else np.zeros(0)
        )
        resp = detector.simulate_response(
            rng,
            arr.met,
            arr.body,
            arr.energy_mev,
            arr.particle == sky.PROTON,
            dead,
            entry="volume",
            other_triggers=other,
            deadtime=state,
        )
        out.n_arrivals += len(arr)
        out.n_not_triggered += resp.n_not_triggered
        out.n_dead += resp.n_dead_time
        n = len(resp)
        h, gem, hw = events.event_headers(
            resp,
            run,
            gem_seq0=n_events,
            readouts_before=resp.readouts_before,
            dead_ticks=profile.dead_ticks,
            prev_elapsed=prev_elapsed,
        )
        records, lengths = events.event_records(resp, h, gem, hw)
        epu = np.asarray(epus, np.int64)[rng.integers(0, len(epus), n)] if n else np.zeros(0, np.int64)
        src = resp.source
        ra, dec = radec_deg(arr.direction[src]) if src.size else (np.zeros(0), np.zeros(0))
        out.records.append(records)
        out.add(
            lengths=lengths,
            gem_seq=h["gem_seq"].astype(np.int64),
            met=run + h["elapsed"].astype(np.int64) / NOMINAL_TICKS_PER_SECOND,
            livetime_ticks=h["livetime"].astype(np.int64),
            epu=epu,
            conversion_plane=resp.conversion_plane,
            cal_energy_mev=resp.cal_energy_mev,
            component=arr.component[src],
            particle=arr.particle[src],
            energy_mev=arr.energy_mev[src],
            ra=ra,
            dec=dec,
            theta=np.degrees(np.arccos(np.clip(arr.body[src, 2], -1, 1))),
        )
        if n:
            prev_elapsed = int(h["elapsed"][-1])
        n_events += n
    out.readouts, out.lost = state.readouts, state.lost
    return out


def run_datagrams(
    stream: RunStream,
    run: int,
    stop_met: float,
    epus: tuple[int, ...],
    policy: events.DatagramPolicy,
    keys: ConfigKeys | None = None,
) -> tuple[dict[int, list[bytes]], dict[int, np.ndarray], np.ndarray]:
    """Cut the run's events into the datagrams of each EPU: (datagrams, their times, datagram of event).

    With ``keys`` every datagram carries the run's configuration keys (format version 2).
    """
    records = np.concatenate(stream.records) if stream.records else np.zeros(0, np.uint8)
    lengths = stream.column("lengths", np.int64).astype(np.int64)
    met = stream.column("met")
    epu = stream.column("epu", np.int64)
    dgms: dict[int, list[bytes]] = {}
    times: dict[int, np.ndarray] = {}
    dgm_of_event = np.zeros(lengths.size, np.int64)
    for crate in epus:
        sel = np.flatnonzero(epu == crate)
        ctx = DatagramContext(run=run, crate=crate, keys=keys)
        dgms[crate], times[crate], dgm_of_event[sel] = events.epu_datagrams(
            ctx, events.gather_records(records, lengths, sel), lengths[sel], met[sel], stop_met, policy
        )
    return dgms, times, dgm_of_event
