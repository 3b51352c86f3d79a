"""Replay real data: the raw telemetry a real FT1 + FT2 would have come from.

Given the photons of a real FT1 file (time, energy, sky direction) and the pointing history of
the matching FT2 file (``QSJ_1..4``, ``SC_POSITION`` every 30 s), write deliveries as
:func:`fermi_latsim.simulate.simulate` does:

* spacecraft records (APID 1020, 5 Hz) with the FT2 attitude interpolated (normalised linear
  interpolation of the quaternions, as fermi-l1 does) and the position interpolated along the
  orbit (great-circle interpolation of the direction, linear in radius; a straight line between
  FT2 rows 30 s apart would cut ~1 km inside the orbit);
* one run per real run (FT1 ``RUN_ID``) holding its photons, replayed over
  ``[first photon - margin, last photon + margin]`` clipped to the FT2 good interval (DATA_QUAL
  > 0, LAT_CONFIG == 1, rows back to back) around it, with the window start as run id — or, with
  ``margin=None``, from the real run start (its id is then the real ``RUN_ID``) to the end of
  the good interval;
* every FT1 photon at its exact TIME, from its RA/DEC converted to the instrument frame with the
  interpolated attitude, at its FT1 energy, through the detector model; a photon the model does
  not trigger is thrown again (new impact point and conversion) — the real one was detected —
  up to ``max_attempts`` times;
* optionally the simulated sky and cosmic-ray background around them.

The truth (``truth/events.parquet``) has the FT1 row of each replayed photon (``ft1_row``, -1 for
background) with the FT1 time, energy and direction.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fermi_core.mission.packets import APID_EPU0, APID_SPACECRAFT, SEQ_MODULUS
from fermi_core.mission.pointing import arc, nlerp
from fermi_ingest.ccsds import PacketColumns
from fermi_latsim import detector, events, sky, spacecraft
from fermi_latsim.attitude import Attitude, quaternion_to_matrix, radec_deg
from fermi_latsim.simulate import encode_run_packets, write_deliveries, write_truth
from fermi_sciencetools_shim.io.ft1 import read_events
from fermi_sciencetools_shim.io.ft2 import read_ft2
from fermi_sciencetools_shim.time import met_to_utc_iso

#: component id of a replayed FT1 photon in the truth
REPLAYED = 9
FT2_COLUMNS = ("START", "STOP", "SC_POSITION", "QSJ_1", "QSJ_2", "QSJ_3", "QSJ_4", "DATA_QUAL", "LAT_CONFIG")


@dataclass
class ReplayConfig:
    """Parameters of :func:`replay`."""

    seed: int = 0
    #: seconds replayed before the first and after the last photon of a run; None: whole interval
    margin_s: float | None = 60.0
    background: bool = False
    model: sky.SkyModel = field(default_factory=sky.SkyModel)
    policy: events.DatagramPolicy = field(default_factory=events.DatagramPolicy)
    runs_per_delivery: int = 4
    max_attempts: int = 500
    attitude_hz: int = 5


@dataclass
class Pointing:
    """FT2 rows usable for a replay (good, sorted) and their contiguous good intervals."""

    start: np.ndarray
    stop: np.ndarray
    quaternion: np.ndarray  # (m, 4) scalar last, instrument -> J2000
    position: np.ndarray  # (m, 3) m
    intervals: np.ndarray  # (k, 2) [start, stop) of back-to-back good rows

    def at(self, met: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(quaternion (n, 4), position (n, 3) m, velocity (n, 3) m/s) at ``met``."""
        t = np.asarray(met, np.float64)
        quat, _ = nlerp(t, self.start, self.quaternion, self.position)
        pos = self._position(t)
        vel = (self._position(t + 0.5) - self._position(t - 0.5)) / 1.0
        return quat, pos, vel

    def _position(self, t: np.ndarray) -> np.ndarray:
        return arc(self.start, self.position, t)


def read_pointing(ft2_path: str | Path) -> Pointing:
    """Good rows of an FT2 file (DATA_QUAL > 0, LAT_CONFIG == 1) and their intervals.

    Raises
    ------
    ValueError
        Naming the file when it has no good row or its rows are not in time order.
    """
    d = read_ft2(ft2_path, FT2_COLUMNS)
    good = (d["DATA_QUAL"] > 0) & (d["LAT_CONFIG"] == 1)
    start, stop = d["START"][good], d["STOP"][good]
    if start.size < 2:
        raise ValueError(f"{ft2_path}: fewer than two good rows (DATA_QUAL > 0, LAT_CONFIG == 1)")
    bad = np.flatnonzero(np.diff(start) <= 0)
    if bad.size:
        raise ValueError(f"{ft2_path}: SC_DATA row {int(bad[0]) + 1}: START not increasing")
    quat = np.column_stack([d[f"QSJ_{k}"][good] for k in (1, 2, 3, 4)])
    breaks = np.flatnonzero(np.abs(start[1:] - stop[:-1]) > 1e-3) + 1
    first = np.r_[0, breaks]
    last = np.r_[breaks, start.size] - 1
    intervals = np.column_stack([start[first], stop[last]])
    return Pointing(start, stop, quat, d["SC_POSITION"][good], intervals)


def replay_runs(
    time: np.ndarray, run_id: np.ndarray | None, pointing: Pointing, margin_s: float | None
) -> list[tuple[int, float, float, np.ndarray]]:
    """The runs to replay: ``(run id, start, stop, FT1 rows)``, sorted by start.

    Photons are grouped by ``run_id`` (FT1 ``RUN_ID``; by good interval when None). Raises
    ``ValueError`` naming the FT1 row of a photon outside every good FT2 interval.
    """
    iv = pointing.intervals
    k = np.searchsorted(iv[:, 0], time, side="right") - 1
    inside = (k >= 0) & (time < iv[np.maximum(k, 0), 1])
    if not inside.all():
        row = int(np.flatnonzero(~inside)[0])
        raise ValueError(f"FT1 row {row}: TIME {time[row]:.6f} is outside every good interval of the FT2")
    key = k.astype(np.int64) if run_id is None else np.asarray(run_id, np.int64)
    out = []
    for rid in np.unique(key):
        rows = np.flatnonzero(key == rid)
        kk = np.unique(k[rows])
        if kk.size != 1:
            raise ValueError(f"FT1 rows {rows.tolist()}: one run spans several good FT2 intervals")
        lo, hi = iv[kk[0]]
        if margin_s is None:
            t0, t1 = lo, hi
            if run_id is not None and lo <= rid <= time[rows].min():
                t0 = float(rid)  # the real run: from its start (the pipeline needs pointing from there)
        else:
            t0, t1 = max(lo, time[rows].min() - margin_s), min(hi, time[rows].max() + margin_s)
        start = float(np.ceil(t0))
        if start > time[rows].min():
            start = float(np.floor(time[rows].min()))
        # the run id is the MET of the run start: the real one only when replayed from there
        run = int(rid) if run_id is not None and rid == start else int(start)
        out.append((run, start, float(t1), rows))
    out.sort(key=lambda r: r[1])
    for a, b in itertools.pairwise(out):
        if b[1] < a[2]:
            raise ValueError(f"runs {a[0]} and {b[0]} overlap in time")
    return out


def _merge(parts: Sequence[tuple[detector.Response, np.ndarray]]) -> tuple[detector.Response, np.ndarray]:
    """One response from several (each with a per-event label), sorted by time."""
    n = [len(r) for r, _ in parts]
    shift = np.cumsum([0, *n[:-1]])
    met = np.concatenate([r.met for r, _ in parts])
    order = np.argsort(met, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)

    def table(name: str) -> np.ndarray:
        t = np.concatenate([getattr(r, name)[:].copy() for r, _ in parts]) if parts else np.zeros(0)
        ev = np.concatenate([getattr(r, name)["event"] + s for (r, _), s in zip(parts, shift, strict=True)])
        t["event"] = rank[ev]
        return t[np.argsort(t["event"], kind="stable")]

    def col(name: str) -> np.ndarray:
        return np.concatenate([getattr(r, name) for r, _ in parts])[order]

    increments = np.concatenate([np.diff(r.discarded, prepend=0) for r, _ in parts])[order]
    resp = detector.Response(
        source=col("source"),
        met=met[order],
        conversion_plane=col("conversion_plane"),
        tkr_vector=col("tkr_vector"),
        cal_le_vector=col("cal_le_vector"),
        cal_he_vector=col("cal_he_vector"),
        roi_vector=col("roi_vector"),
        cal_energy_mev=col("cal_energy_mev"),
        strips=table("strips"),
        logs=table("logs"),
        acd=table("acd"),
        discarded=np.cumsum(increments),
        n_arrivals=sum(r.n_arrivals for r, _ in parts),
        n_not_triggered=sum(r.n_not_triggered for r, _ in parts),
        n_dead_time=sum(r.n_dead_time for r, _ in parts),
    )
    return resp, np.concatenate([lab for _, lab in parts])[order]


def _subset(resp: detector.Response, keep: np.ndarray) -> detector.Response:
    """The events ``keep`` (bool per event) of a response, renumbered."""
    remap = np.full(len(resp), -1, np.int64)
    remap[keep] = np.arange(int(keep.sum()))

    def t(table: np.ndarray) -> np.ndarray:
        out = table[remap[table["event"]] >= 0].copy()
        out["event"] = remap[out["event"]]
        return out

    return detector.Response(
        source=resp.source[keep], met=resp.met[keep], conversion_plane=resp.conversion_plane[keep],
        tkr_vector=resp.tkr_vector[keep], cal_le_vector=resp.cal_le_vector[keep],
        cal_he_vector=resp.cal_he_vector[keep], roi_vector=resp.roi_vector[keep],
        cal_energy_mev=resp.cal_energy_mev[keep], strips=t(resp.strips), logs=t(resp.logs),
        acd=t(resp.acd), discarded=resp.discarded[keep], n_arrivals=resp.n_arrivals,
        n_not_triggered=resp.n_not_triggered, n_dead_time=resp.n_dead_time,
    )  # fmt: skip


def detect_photons(
    rng: np.random.Generator,
    met: np.ndarray,
    body: np.ndarray,
    energy_mev: np.ndarray,
    dead: np.ndarray,
    max_attempts: int,
) -> tuple[detector.Response, np.ndarray]:
    """Responses of photons that were detected: each is thrown until the model triggers on it.

    Returns the response (time order) and the photon index of each event. Raises ``ValueError``
    naming the photon the model could not trigger on in ``max_attempts`` throws.
    """
    parts = []
    todo = np.arange(met.size)
    attempts = np.zeros(met.size, np.int64)
    while todo.size:
        resp = detector.simulate_response(
            rng, met[todo], body[todo], energy_mev[todo], np.zeros(todo.size, bool), dead, entry="volume"
        )
        # one photon at a time in the LAT: an event is its own photon's (no dead-time loss)
        hit = todo[resp.source]
        parts.append((resp, hit))
        attempts[todo] += 1
        todo = np.setdiff1d(todo, hit)
        if todo.size and attempts[todo].max() >= max_attempts:
            i = int(todo[np.argmax(attempts[todo])])
            raise ValueError(
                f"photon {i} (E={energy_mev[i]:.1f} MeV, theta={np.degrees(np.arccos(body[i, 2])):.1f} deg): "
                f"no trigger in {max_attempts} throws"
            )
    resp, label = _merge(parts)
    resp.source = label.copy()
    return resp, label


def replay(
    ft1_path: str | Path, ft2_path: str | Path, out: str | Path, config: ReplayConfig | None = None
) -> dict:
    """Write the deliveries a real FT1 + FT2 would have come from into ``out``; return the summary."""
    cfg = config or ReplayConfig()
    out = Path(out)
    rng = np.random.default_rng(cfg.seed)
    ft1, _ = read_events(ft1_path, ["TIME", "ENERGY", "RA", "DEC", "THETA", "RUN_ID", "CONVERSION_TYPE"])
    order = np.argsort(ft1["TIME"], kind="stable")
    pointing = read_pointing(ft2_path)
    runs = replay_runs(ft1["TIME"], ft1["RUN_ID"], pointing, cfg.margin_s)
    dead = detector.dead_strips()
    counts = {apid: 0 for apid in (APID_EPU0, APID_EPU0 + 1, APID_SPACECRAFT)}
    packet_parts: list[PacketColumns] = []
    truth_parts = []
    run_rows = []
    n_sc = 0
    n_bg_dropped = 0
    for run_id, t0, t1, rows in runs:
        rows = rows[np.argsort(ft1["TIME"][rows], kind="stable")]
        met = t0 + np.arange(int(np.ceil((t1 - t0) * cfg.attitude_hz))) / cfg.attitude_hz
        quat, pos, vel = pointing.at(met)
        tl = spacecraft.SpacecraftTimeline(
            met=met, position=pos, velocity=vel,
            attitude=Attitude(met, quat, np.zeros_like(pos), np.zeros_like(pos), np.zeros(met.size)),
            lat_deg=np.zeros(met.size), lon_deg=np.zeros(met.size), in_saa=np.zeros(met.size, bool),
            orbit_sample=(np.arange(met.size) % cfg.attitude_hz) == 0, nodes=np.zeros(0),
        )  # fmt: skip
        sc = spacecraft.packets(spacecraft.records(tl), first_count=counts[APID_SPACECRAFT])
        counts[APID_SPACECRAFT] = (counts[APID_SPACECRAFT] + len(sc)) % SEQ_MODULUS
        packet_parts.append(sc)
        n_sc += len(sc)

        t_ph = ft1["TIME"][rows]
        q_ph, _, _ = pointing.at(t_ph)
        sky_dir = _radec_to_vec(ft1["RA"][rows], ft1["DEC"][rows])
        body = np.einsum("nji,nj->ni", quaternion_to_matrix(q_ph), sky_dir)
        front = body[:, 2] > 0
        if not front.all():
            i = int(rows[np.flatnonzero(~front)[0]])
            raise ValueError(f"{ft1_path}: FT1 row {i}: direction behind the LAT with the FT2 attitude")
        resp_ph, idx = detect_photons(rng, t_ph, body, ft1["ENERGY"][rows], dead, cfg.max_attempts)
        parts = [(resp_ph, rows[idx])]
        comp = {"direction": sky_dir, "body": body}
        bg = None
        if cfg.background:
            bg = sky.sample_arrivals(rng, met, quat, pos, t0 + 1e-3, t1 - 1e-3, cfg.model)
            resp_bg = detector.simulate_response(
                rng, bg.met, bg.body, bg.energy_mev, bg.particle == sky.PROTON, dead, entry="volume"
            )
            near = np.abs(resp_bg.met[:, None] - t_ph[None, :]).min(axis=1) < detector.DEAD_TIME_S
            n_bg_dropped += int(near.sum())
            resp_bg = _subset(resp_bg, ~near)
            parts.append((resp_bg, -1 - resp_bg.source.astype(np.int64)))  # background: negative labels
        resp, label = _merge(parts)
        parts_pk, truth_run = encode_run_packets(resp, run_id, t1, (0, 1), counts, cfg.policy, rng)
        packet_parts += parts_pk
        is_ph = label >= 0
        ft1_row = np.where(is_ph, label, -1)
        bg_idx = np.where(is_ph, 0, -label - 1)
        n = len(resp)
        energy = np.where(is_ph, ft1["ENERGY"][np.maximum(ft1_row, 0)], 0.0)
        direction = np.zeros((n, 3))
        bodies = np.zeros((n, 3))
        sorter = np.argsort(rows)
        ph_pos = sorter[np.searchsorted(rows, ft1_row[is_ph], sorter=sorter)]  # index into this run's rows
        direction[is_ph] = comp["direction"][ph_pos]
        bodies[is_ph] = comp["body"][ph_pos]
        component = np.full(n, REPLAYED, np.int16)
        particle = np.full(n, sky.PHOTON, np.int16)
        if bg is not None and (~is_ph).any():
            b = bg_idx[~is_ph]
            energy[~is_ph] = bg.energy_mev[b]
            direction[~is_ph] = bg.direction[b]
            bodies[~is_ph] = bg.body[b]
            component[~is_ph] = bg.component[b]
            particle[~is_ph] = bg.particle[b]
        ra, dec = radec_deg(direction) if n else (np.zeros(0), np.zeros(0))
        truth_run.update(
            {
                "component": component,
                "particle": particle,
                "energy_mev": energy,
                "ra": np.where(is_ph, ft1["RA"][np.maximum(ft1_row, 0)], ra),
                "dec": np.where(is_ph, ft1["DEC"][np.maximum(ft1_row, 0)], dec),
                "theta": np.degrees(np.arccos(np.clip(bodies[:, 2], -1, 1))),
                "ft1_row": ft1_row.astype(np.int64),
                "ft1_time": np.where(is_ph, ft1["TIME"][np.maximum(ft1_row, 0)], np.nan),
                "ft1_run_id": np.where(is_ph, ft1["RUN_ID"][np.maximum(ft1_row, 0)], -1).astype(np.int64),
            }
        )
        truth_parts.append(truth_run)
        run_rows.append(
            {"run": run_id, "start": t0, "stop": t1, "events": n, "photons": int(is_ph.sum()),
             "epus": [0, 1], "start_utc": str(met_to_utc_iso(t0, 3))}
        )  # fmt: skip

    truth = {k: np.concatenate([p[k] for p in truth_parts]) for k in truth_parts[0]}
    starts = np.array([r[1] for r in runs])
    stops = np.array([r[2] for r in runs])
    group = np.arange(len(runs)) // max(cfg.runs_per_delivery, 1)
    cut_at = [starts[0] - 1.0]
    for g in range(1, int(group.max()) + 1):
        first = int(np.flatnonzero(group == g)[0])
        cut_at.append(0.5 * (stops[first - 1] + starts[first]))
    cut_at.append(stops[-1] + 1.0)
    cuts = np.asarray(cut_at)
    deliveries, applied = write_deliveries(out, packet_parts, truth, cuts, float(stops[-1]) + 1.0, (), rng)
    write_truth(out, truth)
    summary = {
        "format": "fermi-latsim-truth",
        "version": 1,
        "mode": "replay",
        "ft1": str(ft1_path),
        "ft2": str(ft2_path),
        "seed": cfg.seed,
        "margin_s": cfg.margin_s,
        "background": cfg.background,
        "ft1_rows": int(order.size),
        "photons_replayed": int((truth["ft1_row"] >= 0).sum()),
        "background_dropped_near_photons": n_bg_dropped,
        "events": int(truth["time"].size),
        "runs": run_rows,
        "deliveries": deliveries,
        "faults": applied,
        "spacecraft_records": n_sc,
    }
    (out / "truth" / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def _radec_to_vec(ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    return np.column_stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])
