"""A whole simulation: orbit -> runs -> sky -> detector -> datagrams -> packets -> deliveries.

Output layout under ``out``::

    deliveries/<YYMMDDNNN>/        packet files <id>_000.pkt ... + manifest.json (fermi-ingest format)
    truth/events.parquet           one row per read-out event (never inside a delivery)
    truth/summary.json             counts, runs, deliveries and the faults applied (with details)

Faults (each a flag; see :data:`FAULTS`) are applied to the packets before they are written, and
every one is recorded in the summary so tests can check its effect.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from fermi_core.mission.packets import APID_EPU0, APID_SPACECRAFT, SEQ_MODULUS
from fermi_halfpipe.datagram import DatagramContext, datagrams_to_packets
from fermi_halfpipe.keys import ConfigKeys
from fermi_ingest.ccsds import PacketColumns, concatenate, encode_packets
from fermi_ingest.manifest import write_manifest
from fermi_l1.instrument import conversion_type
from fermi_latsim import detector, dq_faults, events, flight, geomag, sky, spacecraft, stream
from fermi_latsim.attitude import radec_deg
from fermi_latsim.late import LATE_PLACEMENTS, DeliveryPlan, late_block, place_late, split_files
from fermi_latsim.orbit import default_orbit
from fermi_latsim.profiles import PROFILES, get_profile
from fermi_sciencetools_shim.time import met_to_utc_iso

FAULTS = {
    "dropped-packets": "drop 0.5 % of the event packets at random",
    "corrupted-bytes": "overwrite 32 bytes from a packet header in the middle of a file of the second delivery",
    "duplicated-datagrams": "send the last 5 datagrams of each EPU in a delivery again in the next one",
    "late-epu": "EPU1's packets of the first delivery arrive with the second delivery",
    "one-epu-run": "the second run is taken with EPU0 only",
    "counters-near-wrap": "packet sequence counters start 40 below the 16384 wrap",
    "truncated-file": "the last packet file of the last delivery loses its final 100 bytes",
    "late-packets-own-delivery": "a block of EPU0 datagrams from the middle of delivery 1 arrives as a "
    "delivery of its own after delivery 3",
    "late-packets-start": "a block of EPU0 datagrams from the middle of delivery 1 arrives at the start "
    "of the first file of delivery 3",
    "late-packets-middle": "a block of EPU0 datagrams from the middle of delivery 1 arrives in the middle "
    "of the first file of delivery 3",
    "late-packets-end": "a block of EPU0 datagrams from the middle of delivery 1 arrives at the end of "
    "the last file of delivery 3",
    "late-packets-extra-file": "a block of EPU0 datagrams from the middle of delivery 1 arrives as an "
    "extra file of delivery 3",
    "dropped-packets-redelivered": "dropped-packets, and the dropped packets then arrive as a final "
    "delivery of their own",
    **dq_faults.DQ_FAULTS,  # bad-config-key, rate-excursion, dead-tracker-layers
}
#: a gap of this length is left at the ascending node of orbits that miss the SAA (isoc.md)
NODE_GAP_S = 13.5
MAX_PACKETS_PER_FILE = 20_000


@dataclass
class SimulationConfig:
    """Parameters of :func:`simulate`."""

    hours: float = 1.0
    seed: int = 0
    start_met: float | None = None  # default: the TLE epoch (whole second)
    faults: tuple[str, ...] = ()
    model: sky.SkyModel = field(default_factory=sky.SkyModel)
    policy: events.DatagramPolicy = field(default_factory=events.DatagramPolicy)
    #: deliveries come 6-10 a day; a short simulation is still cut into at least this many
    min_deliveries: int = 3
    #: rates and dead time (:data:`PROFILES`): ``light`` (small, for tests) or ``flight``
    profile: str = "light"
    #: processes simulating the flight profile's stretches (the bytes do not depend on it)
    workers: int = 1


__all__ = ["FAULTS", "PROFILES", "SimulationConfig", "default_workers", "simulate"]


def default_workers() -> int:
    """Processes ``fermi-latsim simulate`` uses by default: the cores this process may run on
    (at most 2: the main process's sequential share limits the gain beyond; see
    docs/simulation/flight-profile.md, Speed)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(2, cores))


def run_intervals(tl: spacecraft.SpacecraftTimeline) -> np.ndarray:
    """Data-taking runs ``[start, stop)`` (n, 2): outside the SAA, stopped at the ascending node
    (for ``NODE_GAP_S``) on orbits that do not cross the SAA. Starts are whole seconds."""
    taking = ~tl.in_saa
    for k, node in enumerate(tl.nodes):
        prev_node = tl.nodes[k - 1] if k > 0 else node - 6000.0
        orbit = (tl.met >= prev_node) & (tl.met < node)
        if orbit.any() and not tl.in_saa[orbit].any():
            taking &= ~((tl.met >= node) & (tl.met < node + NODE_GAP_S))
    edges = np.diff(np.concatenate([[0], taking.astype(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)
    dt = tl.met[1] - tl.met[0]
    out = []
    for a, b in zip(starts, stops, strict=True):
        t0 = float(np.ceil(tl.met[a]))
        t1 = float(tl.met[b - 1] + dt)
        if t1 - t0 > 1.0:
            out.append((t0, t1))
    return np.asarray(out, dtype=np.float64).reshape(-1, 2)


def delivery_cuts(rng: np.random.Generator, start: float, stop: float, min_deliveries: int) -> np.ndarray:
    """Delivery boundaries: intervals of 2.4-4 h (6-10 a day), shortened to give ``min_deliveries``."""
    span = stop - start
    cuts = [start]
    while cuts[-1] < stop:
        step = min(rng.uniform(86400 / 10, 86400 / 6), span / max(min_deliveries, 1))
        cuts.append(min(cuts[-1] + step, stop))
    cuts[-1] = stop + 1e-3
    return np.asarray(cuts)


def _time(cols: PacketColumns) -> np.ndarray:
    return np.asarray(cols.sec, np.float64) + np.asarray(cols.usec, np.float64) * 1e-6


def simulate(out: str | Path, config: SimulationConfig | None = None, progress: bool = False) -> dict:
    """Simulate ``config.hours`` of LAT telemetry into ``out``; return the summary (also saved)."""
    cfg = config or SimulationConfig()
    unknown = sorted(set(cfg.faults) - set(FAULTS))
    if unknown:
        raise ValueError(f"parameter 'faults': unknown fault {unknown[0]!r} (known: {', '.join(FAULTS)})")
    if len(set(cfg.faults) & set(LATE_PLACEMENTS)) > 1:
        raise ValueError(f"parameter 'faults': at most one of {', '.join(LATE_PLACEMENTS)}")
    if not cfg.hours > 0:
        raise ValueError(f"parameter 'hours': must be positive, got {cfg.hours}")
    if cfg.workers < 1:
        raise ValueError(f"parameter 'workers': must be at least 1, got {cfg.workers}")
    prof = get_profile(cfg.profile)
    model = cfg.model
    if prof.charged_scale != 1.0:
        model = replace(model, cosmic_ray_rate_hz=model.cosmic_ray_rate_hz * prof.charged_scale)
    out = Path(out)
    rng = np.random.default_rng(cfg.seed)
    orbit = default_orbit()
    start = float(np.floor(orbit.epoch_met if cfg.start_met is None else cfg.start_met))
    stop = start + cfg.hours * 3600.0
    tl = spacecraft.timeline(orbit, start, stop)
    runs = run_intervals(tl)
    dead, dead_fault = dq_faults.dead_layers(detector.dead_strips(), cfg.faults)
    burst = dq_faults.excursion_window(runs, cfg.faults)
    key_fault = None
    factor = geomag.rate_factor(tl.met, tl.position, tl.lat_deg, tl.lon_deg, tl.in_saa)

    first_count = SEQ_MODULUS - 40 if "counters-near-wrap" in cfg.faults else 0
    counts = {apid: first_count for apid in (APID_EPU0, APID_EPU0 + 1, APID_SPACECRAFT)}
    packet_parts: list[PacketColumns] = []
    sc = spacecraft.packets(spacecraft.records(tl), first_count=counts[APID_SPACECRAFT])
    packet_parts.append(sc)
    if prof.chunk_s > 0:  # the flight profile: stretches, streamed (see fermi_latsim.stream)
        shared = flight.Shared(
            cfg.seed, tl, dq_faults.charged_factor(tl.met, burst, base=factor), model, prof, dead
        )
        res = _simulate_stretches(out, cfg, shared, runs, sc, rng, stop, counts, progress)
        applied = res["applied"]
        if "one-epu-run" in cfg.faults and len(runs) > 1:
            applied["one-epu-run"] = {"run": int(runs[1][0]), "epus": [0]}
        if "counters-near-wrap" in cfg.faults:
            applied["counters-near-wrap"] = {"first_count": first_count}
        applied.update(dq_faults.records(res["key_fault"], dead_fault, burst, res["truth"]))
        summary = {
            "format": "fermi-latsim-truth", "version": 1, "seed": cfg.seed, "hours": cfg.hours,
            "start_met": start, "stop_met": stop, "tle": [orbit.tle.line1, orbit.tle.line2],
            "components": {str(k): v for k, v in cfg.model.names().items()},
            "arrivals": res["arrivals"], "not_triggered": res["not_triggered"],
            "dead_time_discarded": res["dead"], "events": res["events"], "runs": res["runs"],
            "deliveries": res["deliveries"], "faults": applied, "spacecraft_records": len(sc),
            "profile": prof.name, "readouts": res["readouts"], "dead_time_per_readout_s": prof.dead_s,
        }  # fmt: skip
        (out / "truth" / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        return summary
    truth_parts = []
    n_arrivals = n_not_triggered = n_dead = 0
    run_rows = []
    iterator = range(len(runs))
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, desc="runs", unit="run")
    for r in iterator:
        t0, t1 = runs[r]
        run_id = int(t0)
        epus = (0,) if ("one-epu-run" in cfg.faults and r == 1) else (0, 1)
        keys, bad_keys = dq_faults.run_keys(r, run_id, len(runs), cfg.faults)
        key_fault = key_fault or bad_keys
        arr = sky.sample_arrivals(
            rng, tl.met, tl.attitude.quaternion, tl.position, t0 + 1e-3, t1 - 1e-3, model,
            charged_factor=dq_faults.charged_factor(tl.met, burst),
        )  # fmt: skip
        resp = detector.simulate_response(
            rng, arr.met, arr.body, arr.energy_mev, arr.particle == sky.PROTON, dead, entry="volume"
        )
        n_arrivals += len(arr)
        n_not_triggered += resp.n_not_triggered
        n_dead += resp.n_dead_time
        src = resp.source
        ra, dec = radec_deg(arr.direction[src]) if src.size else (np.zeros(0), np.zeros(0))
        parts, truth_run = encode_run_packets(resp, run_id, t1, epus, counts, cfg.policy, rng, keys=keys)
        packet_parts += parts
        truth_run.update(
            {
                "component": arr.component[src],
                "particle": arr.particle[src],
                "energy_mev": arr.energy_mev[src],
                "ra": ra,
                "dec": dec,
                "theta": np.degrees(np.arccos(np.clip(arr.body[src, 2], -1, 1))),
            }
        )
        truth_parts.append(truth_run)
        run_rows.append(
            {"run": run_id, "start": t0, "stop": t1, "events": len(resp), "epus": list(epus),
             "start_utc": str(met_to_utc_iso(t0, 3)), "config_keys": keys.as_dict()}
        )  # fmt: skip

    truth = {k: np.concatenate([p[k] for p in truth_parts]) for k in truth_parts[0]} if truth_parts else {}
    cuts = delivery_cuts(rng, start, stop, cfg.min_deliveries)
    deliveries, applied = write_deliveries(out, packet_parts, truth, cuts, stop, cfg.faults, rng)
    if "one-epu-run" in cfg.faults and len(runs) > 1:
        applied["one-epu-run"] = {"run": int(runs[1][0]), "epus": [0]}
    if "counters-near-wrap" in cfg.faults:
        applied["counters-near-wrap"] = {"first_count": first_count}
    applied.update(dq_faults.records(key_fault, dead_fault, burst, truth))
    write_truth(out, truth)
    summary = {
        "format": "fermi-latsim-truth",
        "version": 1,
        "seed": cfg.seed,
        "hours": cfg.hours,
        "start_met": start,
        "stop_met": stop,
        "tle": [orbit.tle.line1, orbit.tle.line2],
        "components": {str(k): v for k, v in cfg.model.names().items()},
        "arrivals": n_arrivals,
        "not_triggered": n_not_triggered,
        "dead_time_discarded": n_dead,
        "events": len(truth.get("time", [])),
        "runs": run_rows,
        "deliveries": deliveries,
        "faults": applied,
        "spacecraft_records": len(sc),
    }
    (out / "truth" / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


#: faults the streaming writer applies (per run); the others need every packet of the span at once
STREAM_FAULTS = frozenset({"one-epu-run", "counters-near-wrap", "bad-config-key", "dead-tracker-layers"})


def _streamable(faults: tuple[str, ...]) -> bool:
    """Whether the streaming writer can apply ``faults`` (all in :data:`STREAM_FAULTS`)."""
    return set(faults) <= STREAM_FAULTS


class _Collect:
    """A delivery-writer stand-in that keeps the packets (for :func:`write_deliveries`)."""

    def __init__(self) -> None:
        self.parts: list[PacketColumns] = []

    def add(self, cols: PacketColumns) -> None:
        self.parts.append(cols)


def _simulate_stretches(
    out: Path,
    cfg: SimulationConfig,
    shared: flight.Shared,
    runs: np.ndarray,
    sc: PacketColumns,
    rng: np.random.Generator,
    stop: float,
    counts: dict[int, int],
    progress: bool,
) -> dict:
    """The flight-profile simulation: stretches (in ``cfg.workers`` processes), streamed out.

    Without delivery-level faults (:data:`STREAM_FAULTS` only), packets and truth are written
    as they come (:mod:`fermi_latsim.stream`: memory independent of the span); with them, the
    packets are collected and :func:`write_deliveries` applies the faults.
    """
    start = float(shared.tl.met[0])
    cuts = delivery_cuts(rng, start, stop, cfg.min_deliveries)
    streaming = _streamable(cfg.faults)
    writer = stream.DeliveryWriter(out, cuts, stop, MAX_PACKETS_PER_FILE) if streaming else _Collect()
    merger = stream.PacketMerger(writer, sc)  # type: ignore[arg-type]
    truth = stream.TruthWriter(out, cuts, keep=not streaming)
    epus_of_run = [(0,) if ("one-epu-run" in cfg.faults and r == 1) else (0, 1) for r in range(len(runs))]
    todo = flight.stretches(runs, shared.profile, epus_of_run)
    n_stretches = {int(t0): 0 for t0, _ in runs}
    for st in todo:
        n_stretches[st.run] += 1
    res: dict = {"arrivals": 0, "not_triggered": 0, "dead": 0, "readouts": 0, "runs": [], "key_fault": None}
    r = -1
    asm = epu_streams = None
    keys = None
    it = flight.encoded(shared, todo, cfg.workers)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, total=len(todo), desc="stretches", unit="stretch")
    for ph in it:
        st = ph.stretch
        if asm is None or st.run != asm.run:  # a new run
            r += 1
            t0, t1 = runs[r]
            keys, bad_keys = dq_faults.run_keys(r, st.run, len(runs), cfg.faults)
            res["key_fault"] = res["key_fault"] or bad_keys
            asm = flight.RunAssembler(st.run, shared.profile)
            epu_streams = {
                c: stream.EpuStream(DatagramContext(run=st.run, crate=c, keys=keys), cfg.policy, float(t1),
                                    counts[APID_EPU0 + c])
                for c in st.epus
            }  # fmt: skip
        assert epu_streams is not None
        ev = asm.add(ph)
        res["arrivals"] += ev.n_arrivals
        res["not_triggered"] += ev.n_not_triggered
        res["dead"] += ev.n_dead
        truth.add(ev.columns)
        last = st.index == n_stretches[st.run] - 1
        ends = np.concatenate([[0], np.cumsum(ev.lengths)])
        for c, es in epu_streams.items():
            a, b = ev.epu_slices.get(c, (0, 0))
            sel = ev.epu_events.get(c, np.zeros(0, np.int64))
            cols, index, number, when = es.push(
                ev.records[ends[a] : ends[b]], ev.lengths[a:b], ev.columns["met"][sel],
                ev.columns["gem_seq"][sel], last=last,
            )  # fmt: skip
            truth.closed(index, number, when)
            merger.add((r, c), cols)
        merger.release(min([st.stop] + [es.earliest_open for es in epu_streams.values()]))
        truth.flush(st.run, final=last)
        if last:
            for c, es in epu_streams.items():
                counts[APID_EPU0 + c] = es.count
            t0, t1 = runs[r]
            res["readouts"] += asm.state.readouts
            res["runs"].append(
                {"run": st.run, "start": float(t0), "stop": float(t1), "events": asm.n_events,
                 "epus": list(st.epus), "start_utc": str(met_to_utc_iso(t0, 3)), "readouts": asm.state.readouts,
                 "config_keys": keys.as_dict() if keys is not None else None}
            )  # fmt: skip
    merger.release(np.inf)
    res["events"] = truth.close()
    res["truth"] = {}
    if streaming:
        res["deliveries"], res["applied"] = writer.finish(), {}  # type: ignore[union-attr]
        return res
    table = pa.concat_tables(truth.tables) if truth.tables else None
    t = {k: table[k].to_numpy() for k in table.column_names if k != "delivery"} if table is not None else {}
    cols = concatenate(writer.parts) if writer.parts else sc.take(np.zeros(0, np.int64))  # type: ignore[union-attr]
    res["deliveries"], res["applied"] = write_deliveries(out, [cols], t, cuts, stop, cfg.faults, rng)
    write_truth(out, t)
    res["truth"] = t
    return res


def encode_run_packets(
    resp: detector.Response,
    run_id: int,
    stop_met: float,
    epus: tuple[int, ...],
    counts: dict[int, int],
    policy: events.DatagramPolicy,
    rng: np.random.Generator,
    keys: ConfigKeys | None = None,
) -> tuple[list[PacketColumns], dict[str, np.ndarray]]:
    """Encode one run's response into event packets of its EPUs; return them and the run's truth.

    ``counts`` (APID -> next sequence count) is advanced. The truth holds the event bookkeeping
    (run, GEM sequence, EPU, APID, time, datagram time, conversion plane/type, CAL energy); the
    caller adds what it knows of the particles.
    """
    enc = events.encode_run(resp, run_id, rng, stop_met, policy, epus=epus, keys=keys)
    parts = datagram_packets(enc.datagrams, enc.times, counts)
    datagram_time = np.zeros(len(resp))
    for crate in enc.datagrams:
        mine = enc.epu == crate
        datagram_time[mine] = enc.times[crate][enc.datagram_of_event[mine]]
    truth = {
        "run": np.full(len(resp), run_id, np.int64),
        "gem_seq": enc.gem_seq,
        "epu": enc.epu.astype(np.int8),
        "apid": (APID_EPU0 + enc.epu.astype(np.int16)).astype(np.int16),
        "time": enc.met,
        "datagram_time": datagram_time,
        "datagram": enc.datagram_of_event.astype(np.int64),  # sequence number within its EPU's run stream
        "conversion_plane": resp.conversion_plane,
        "conversion_type": conversion_type(resp.conversion_plane),
        "cal_energy_mev": resp.cal_energy_mev,
    }
    return parts, truth


def datagram_packets(
    datagrams: dict[int, list[bytes]], times: dict[int, np.ndarray], counts: dict[int, int]
) -> list[PacketColumns]:
    """CCSDS packets of each EPU's datagrams (dated by ``times``); ``counts`` is advanced."""
    parts = []
    for crate in (0, 1):
        if crate not in datagrams:
            continue
        apid = APID_EPU0 + crate
        t = times[crate]
        sec = np.floor(t).astype(np.int64)
        usec = np.clip(np.rint((t - sec) * 1e6), 0, 999_999).astype(np.int64)
        cols = datagrams_to_packets(apid, datagrams[crate], sec=sec, usec=usec, first_count=counts[apid])
        counts[apid] = (counts[apid] + len(cols)) % SEQ_MODULUS
        parts.append(cols)
    return parts


def write_deliveries(
    out: Path,
    packet_parts: list[PacketColumns],
    truth: dict[str, np.ndarray],
    cuts: np.ndarray,
    stop: float,
    faults: tuple[str, ...],
    rng: np.random.Generator,
) -> tuple[list[dict], dict[str, dict]]:
    """Sort the packets by time, apply the delivery-level faults, cut them into deliveries at
    ``cuts`` and write ``out/deliveries/<id>/`` (packet files + manifest).

    Adds a ``delivery`` column to ``truth`` (the delivery holding each event's datagram, before
    faults). Returns the delivery rows of the summary and the faults applied.
    """
    cols = concatenate(packet_parts)
    cols = cols.take(np.argsort(_time(cols), kind="stable"))
    applied: dict[str, dict] = {}

    redelivered = None
    if "dropped-packets" in faults or "dropped-packets-redelivered" in faults:
        ev = np.flatnonzero(np.isin(cols.apid, (APID_EPU0, APID_EPU0 + 1)))
        drop = np.sort(rng.choice(ev, max(1, int(0.005 * ev.size)), replace=False)) if ev.size else ev
        keep = np.setdiff1d(np.arange(len(cols)), drop)
        applied["dropped-packets"] = {
            "packets": int(drop.size),
            "apid": np.asarray(cols.apid)[drop].tolist(),
            "seq_count": np.asarray(cols.seq_count)[drop].tolist(),
        }
        if "dropped-packets-redelivered" in faults:
            redelivered = cols.take(drop)
        cols = cols.take(keep)

    t = _time(cols)
    which = np.clip(np.searchsorted(cuts, t, side="right") - 1, 0, cuts.size - 2)
    n_del = cuts.size - 1
    if "late-epu" in faults and n_del > 1:
        late = (which == 0) & (np.asarray(cols.apid) == APID_EPU0 + 1)
        which = np.where(late, 1, which)
        applied["late-epu"] = {"apid": APID_EPU0 + 1, "packets": int(late.sum()), "from": 0, "to": 1}
    per_delivery = [np.flatnonzero(which == k) for k in range(n_del)]
    if "duplicated-datagrams" in faults:
        dup_total = 0
        for k in range(n_del - 1):
            extra = []
            for apid in (APID_EPU0, APID_EPU0 + 1):
                idx = per_delivery[k][np.asarray(cols.apid)[per_delivery[k]] == apid]
                starts = idx[np.isin(np.asarray(cols.seq_flags)[idx], (1, 3))]
                if starts.size:
                    extra.append(idx[idx >= starts[max(0, starts.size - 5)]])
            if extra:
                e = np.concatenate(extra)
                dup_total += e.size
                per_delivery[k + 1] = np.concatenate([np.sort(e), per_delivery[k + 1]])
        applied["duplicated-datagrams"] = {"packets": int(dup_total)}
    plans = [DeliveryPlan(k, split_files(per_delivery[k], MAX_PACKETS_PER_FILE)) for k in range(n_del)]
    late_fault = next((f for f in faults if f in LATE_PLACEMENTS), None)
    if late_fault is not None:
        block = late_block(cols, per_delivery[0])
        plans[0].files = split_files(per_delivery[0][~np.isin(per_delivery[0], block)], MAX_PACKETS_PER_FILE)
        at = place_late(plans, block, LATE_PLACEMENTS[late_fault], MAX_PACKETS_PER_FILE)
        applied[late_fault] = {
            "placement": LATE_PLACEMENTS[late_fault],
            "from": 0,
            "to": at,
            "packets": int(block.size),
            "apid": APID_EPU0,
            "seq_count": np.asarray(cols.seq_count)[block].tolist(),
            "met": [float(t[block].min()), float(t[block].max())] if block.size else [],
        }
    if redelivered is not None:
        n_kept = len(cols)
        cols = concatenate([cols, redelivered])
        plans.append(
            DeliveryPlan(None, [np.arange(n_kept, len(cols))], late=True, late_packets=len(redelivered))
        )
        applied["dropped-packets-redelivered"] = {"packets": len(redelivered), "to": len(plans) - 1}

    utc = met_to_utc_iso(cuts[1:] - 1e-3, 0)
    serial: dict[str, int] = {}
    deliveries = []
    (out / "deliveries").mkdir(parents=True, exist_ok=True)
    delivery_of_packet_time = np.full(len(truth.get("time", [])), -1, np.int64)
    k = 0
    for plan in plans:
        k = k if plan.source is None else plan.source  # a late delivery is dated like the one before
        day = str(utc[k])[2:10].replace("-", "")
        serial[day] = serial.get(day, 0) + 1
        did = f"{day}{serial[day]:03d}"
        d = out / "deliveries" / did
        d.mkdir(parents=True, exist_ok=True)
        for old in d.iterdir():
            old.unlink()
        idx = plan.packets
        names = []
        for f, file_idx in enumerate(plan.files):
            part = cols.take(file_idx)
            data = encode_packets(part)
            normal = plan.source is not None
            if (
                normal
                and "corrupted-bytes" in faults
                and k == min(1, n_del - 1)
                and f == 0
                and data.size > 64
            ):
                ends = np.cumsum(np.asarray(part.payload_length, np.int64) + 14)
                at = int(ends[len(part) // 2 - 1]) if len(part) > 2 else 0  # a packet header mid-file
                data = data.copy()
                data[at : at + 32] = 0xFF
                applied["corrupted-bytes"] = {
                    "delivery": did,
                    "file": f"{did}_{f:03d}.pkt",
                    "offset": at,
                    "bytes": 32,
                }
            name = f"{did}_{f:03d}.pkt"
            (d / name).write_bytes(data.tobytes())
            names.append(name)
        if "truncated-file" in faults and plan.source == n_del - 1:
            last = d / names[-1]
            data = last.read_bytes()
            last.write_bytes(data[: max(0, len(data) - 100)])
            applied["truncated-file"] = {
                "delivery": did,
                "file": names[-1],
                "bytes_removed": min(100, len(data)),
            }
        write_manifest(d, did, names)
        apids = np.asarray(cols.apid)[idx]
        row = {
            "delivery_id": did,
            "start": float(cuts[k]),
            "stop": float(min(cuts[k + 1], stop)),
            "packets": int(idx.size),
            "files": names,
            "packets_per_apid": {str(a): int((apids == a).sum()) for a in np.unique(apids)},
        }
        if plan.late:
            times = _time(cols)[idx]
            row.update({"start": float(times.min()), "stop": float(times.max()), "late": True})
        if plan.late_packets:
            row["late_packets"] = plan.late_packets
        deliveries.append(row)
        if plan.source is None:
            continue
        if truth:
            in_k = (truth["datagram_time"] >= cuts[k]) & (truth["datagram_time"] < cuts[k + 1])
            delivery_of_packet_time[in_k & (delivery_of_packet_time < 0)] = k

    for name in (late_fault, "dropped-packets-redelivered"):
        if name in applied:  # positions in the plan -> delivery ids
            applied[name].update(
                {e: deliveries[applied[name][e]]["delivery_id"] for e in ("from", "to") if e in applied[name]}
            )
    if truth:
        truth["delivery"] = delivery_of_packet_time
    return deliveries, applied


def write_truth(out: Path, truth: dict[str, np.ndarray]) -> None:
    """Write ``out/truth/events.parquet`` (nothing when there is no event)."""
    (out / "truth").mkdir(parents=True, exist_ok=True)
    if truth:
        pq.write_table(pa.table(truth), out / "truth" / "events.parquet")
