"""Detector response through the fermi-l1 instrument model (vectorised over particles).

Photons convert in a tracker foil with probability ``1 - exp(-7/9 X/X0)`` per foil (FRONT planes
0-11 thin, BACK 12-15 thick), into an e+ e- pair sharing the energy; each lepton is followed
plane by plane with Gaussian multiple scattering (Highland formula) and fires the strip it
crosses in each silicon layer (plus a neighbour now and then), except dead strips. Noise hits are
sprinkled at random. The shower deposits the energy in the calorimeter along the photon axis with
the longitudinal profile of :func:`fermi_l1.instrument.shower_fraction`; what falls beyond the
8.6 X0 or outside the CsI leaks away. Charged cosmic rays cross the ACD (a tile hit with a MIP
signal, which the ground must veto), fire a straight line of strips and leave MIP signals in the
logs. The trigger is the GEM's: TKR (three x-y planes in a row in one tower) or CAL_HE; a trigger
arriving within the readout dead time of the previous one is discarded (counted, not read).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from fermi_l1 import instrument as lat
from fermi_latsim import _kernels

#: readout dead time per event, s (Atwood et al. 2009: 26.5 us)
DEAD_TIME_S = 26.5e-6
#: CAL_LO / CAL_HI trigger thresholds on one log, MeV (LAT: 100 MeV and 1 GeV)
CAL_LO_MEV = 100.0
CAL_HI_MEV = 1000.0
#: mean number of noise strips per event over the whole LAT [ours]
NOISE_STRIPS_PER_EVENT = 0.3
#: probability that a track also fires the neighbouring strip [ours]
NEIGHBOUR_PROB = 0.25
#: dead strips (on-board masked): 333 in all by 2010, 111 of them in tower 0 (isoc.md)
N_DEAD_STRIPS = 333
N_DEAD_TOWER0 = 111
#: ACD hit threshold (PHA counts) [ours]
ACD_THRESHOLD_MEV = 0.3
MIP_CSI_MEV_PER_MM = 0.56
#: fraction of a layer's shower energy in each neighbouring log across (Moliere radius of CsI
#: 3.5 cm vs 2.8 cm log pitch) [ours]
SHOWER_SPREAD = 0.1
#: relative Gaussian fluctuation of each log's signal (light yield, sampling) [ours]
LOG_NOISE = 0.05
#: log-normal width of the shower-depth (profile shape ``a``) fluctuation of a 1 GeV shower; it
#: falls with energy as GFLASH's sigma(ln alpha) = 1 / (0.86 ln(E/Ec) - 0.58) (Grindhammer et al.
#: 1990, NIM A290, 469). The amplitude [ours] is about a third of GFLASH's: the LAT's own
#: per-event profile fit removes most of the depth fluctuation, fermi-l1's mean-profile leakage
#: correction none, so the full GFLASH value would give a resolution worse than the LAT's.
SHOWER_DEPTH_SPREAD = 0.1
_GFLASH_1GEV = 0.86 * np.log(1000.0 / lat.CSI_CRITICAL_ENERGY_MEV) - 0.58
#: depths (fractions of the log height from its middle) at which a layer's deposit is placed along
#: the shower axis: an inclined shower crosses a layer diagonally, through several logs, and may
#: leave the array through the side of the calorimeter within a layer
CAL_DEPTH_STEPS = (-1.0 / 3.0, 0.0, 1.0 / 3.0)
STRIPS_PER_TOWER = lat.N_TKR_PLANES * lat.N_VIEWS * lat.N_STRIPS


def strip_key(tower: np.ndarray, plane: np.ndarray, view: np.ndarray, strip: np.ndarray) -> np.ndarray:
    """Global strip number ``tower * 55296 + (plane * 2 + view) * 1536 + strip`` (int64)."""
    return (
        np.asarray(tower, np.int64) * STRIPS_PER_TOWER
        + (np.asarray(plane, np.int64) * lat.N_VIEWS + np.asarray(view, np.int64)) * lat.N_STRIPS
        + np.asarray(strip, np.int64)
    )


def dead_strips(seed: int = 2010) -> np.ndarray:
    """Sorted global numbers of the dead strips (``N_DEAD_STRIPS``, ``N_DEAD_TOWER0`` in tower 0)."""
    rng = np.random.default_rng(seed)
    t0 = rng.choice(STRIPS_PER_TOWER, N_DEAD_TOWER0, replace=False)
    rest = rng.choice(STRIPS_PER_TOWER * (lat.N_TOWERS - 1), N_DEAD_STRIPS - N_DEAD_TOWER0, replace=False)
    return np.sort(np.concatenate([t0, rest + STRIPS_PER_TOWER])).astype(np.int64)


@dataclass
class Response:
    """Detector response of the triggered events (ragged hit tables keyed by event index).

    ``event`` columns index the rows of the per-event arrays (0 .. n-1); ``source`` maps each
    event back to the arrival it came from.
    """

    source: np.ndarray  # (n,) index into the arrivals
    met: np.ndarray  # (n,) trigger time
    conversion_plane: np.ndarray  # (n,) int16, -1: no conversion (charged particle)
    tkr_vector: np.ndarray  # (n,) uint16 towers with a TKR trigger
    cal_le_vector: np.ndarray
    cal_he_vector: np.ndarray
    roi_vector: np.ndarray  # (n,) uint16 towers whose ACD shadow has a hit [ours: tiles above]
    cal_energy_mev: np.ndarray  # (n,) deposited in the logs read out
    strips: np.ndarray  # structured: event, tower, plane, view, strip
    logs: np.ndarray  # structured: event, tower, layer, column, range_pos, range_neg, adc_pos, adc_neg
    acd: np.ndarray  # structured: event, id, flags, ranges, pha_a, pha_b
    discarded: np.ndarray  # (n,) triggers discarded in dead time since the previous event
    n_arrivals: int = 0
    n_not_triggered: int = 0
    n_dead_time: int = 0
    #: per event, the run's read-outs before it (filtered ones included; None: the events before it)
    readouts_before: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.source.size)


@dataclass
class DeadTime:
    """Read-out dead-time state of one run, carried from one stretch of it to the next.

    Attributes
    ----------
    dead_s
        Dead time per read-out, s.
    last
        Time of the last read-out.
    readouts, lost
        Read-outs so far (events rejected on board included) and triggers discarded in dead time.
    """

    dead_s: float = DEAD_TIME_S
    last: float = -np.inf
    readouts: int = 0
    lost: int = 0


#: strips in the LAT (the factor of the event number in an event-strip key)
STRIPS_IN_LAT = lat.N_TOWERS * STRIPS_PER_TOWER


def event_strip_key(event: np.ndarray, tower: np.ndarray, plane: np.ndarray, view: np.ndarray,
                    strip: np.ndarray) -> np.ndarray:  # fmt: skip
    """``event * STRIPS_IN_LAT +`` :func:`strip_key` (int64): sorts as (event, tower, plane, view, strip)."""
    return np.asarray(event, np.int64) * STRIPS_IN_LAT + strip_key(tower, plane, view, strip)


def strip_table(key: np.ndarray) -> np.ndarray:
    """The :data:`STRIP_DTYPE` rows of event-strip keys (:func:`event_strip_key`), in their order."""
    key = np.asarray(key, np.int64)
    rec = np.zeros(key.size, STRIP_DTYPE)
    rec["event"], rest = np.divmod(key, STRIPS_IN_LAT)
    rec["tower"], rest = np.divmod(rest, STRIPS_PER_TOWER)
    layer, rec["strip"] = np.divmod(rest, lat.N_STRIPS)
    rec["plane"], rec["view"] = np.divmod(layer, lat.N_VIEWS)
    return rec


def live_strip_keys(key: np.ndarray, dead: np.ndarray) -> np.ndarray:
    """Event-strip keys sorted, duplicates merged and the strips of ``dead`` (global strip numbers,
    :func:`strip_key`) removed."""
    key = np.sort(np.asarray(key, np.int64))  # numpy's vectorised int64 sort: a few ms for 400 k keys
    if key.size:
        key = key[np.concatenate([[True], key[1:] != key[:-1]])]
    dead = np.sort(np.asarray(dead, np.int64))
    if dead.size and key.size:
        g = key % STRIPS_IN_LAT
        key = key[dead[np.minimum(np.searchsorted(dead, g), dead.size - 1)] != g]
    return key


def unique_rows(table: np.ndarray) -> np.ndarray:
    """``np.unique`` of a structured table (rows sorted field by field, in field order; equal rows
    merged), through one ``np.lexsort`` of the fields (``np.unique`` compares whole records)."""
    if table.size == 0:
        return table
    order = np.lexsort([table[name] for name in reversed(table.dtype.names)])
    t = table[order]
    differs = np.zeros(t.size, bool)
    differs[0] = True
    for name in t.dtype.names:
        differs[1:] |= t[name][1:] != t[name][:-1]
    return t[differs]


def unique_strips(strips: np.ndarray) -> np.ndarray:
    """``np.unique`` of a :data:`STRIP_DTYPE` table, through one int64 key (same order, faster)."""
    key = event_strip_key(strips["event"], strips["tower"], strips["plane"], strips["view"], strips["strip"])
    return strip_table(live_strip_keys(key, np.zeros(0, np.int64)))


STRIP_DTYPE = np.dtype([("event", "i8"), ("tower", "i2"), ("plane", "i2"), ("view", "i2"), ("strip", "i2")])
LOG_DTYPE = np.dtype(
    [
        ("event", "i8"),
        ("tower", "i2"),
        ("layer", "i2"),
        ("column", "i2"),
        ("range_pos", "u1"),
        ("range_neg", "u1"),
        ("adc_pos", "u2"),
        ("adc_neg", "u2"),
    ]
)
ACD_DTYPE = np.dtype(
    [("event", "i8"), ("id", "i2"), ("flags", "u1"), ("ranges", "u1"), ("pha_a", "u2"), ("pha_b", "u2")]
)


#: z of the top of the tracker volume through which particles enter (1 cm above the top foil)
TRACKER_TOP_Z_MM = float(lat.FOIL_Z_MM[0] + 10.0)
#: z of the bottom of that volume: the lowest converter foil (a photon entering the side below
#: it cannot convert in the tracker, a charged particle cannot make a three-plane trigger)
TRACKER_BOTTOM_Z_MM = float(lat.FOIL_Z_MM[np.flatnonzero(lat.FOIL_X0 > 0)[-1]])


def projected_area_mm2(direction: np.ndarray) -> np.ndarray:
    """Area (mm^2) of the tracker volume seen by particles travelling along unit ``direction``.

    The tracker is a box: its top (``2h x 2h``) seen at ``|u_z|`` plus the two side walls
    (``2h x height``) facing the particle, seen at ``|u_x|`` and ``|u_y|``. At 60 deg the walls
    are more than half of it: photons entering there convert low in the tracker and shower in
    the calorimeter.
    """
    u = np.atleast_2d(np.asarray(direction, dtype=np.float64))
    w = 2.0 * lat.ARRAY_HALF_WIDTH_MM
    height = TRACKER_TOP_Z_MM - TRACKER_BOTTOM_Z_MM
    return w * w * np.abs(u[:, 2]) + w * height * (np.abs(u[:, 0]) + np.abs(u[:, 1]))


def entry_points(rng: np.random.Generator, direction: np.ndarray) -> np.ndarray:
    """(m, 3) points where particles travelling along ``direction`` (downwards) enter the tracker.

    Uniform over the tracker volume's projected area (:func:`projected_area_mm2`): the face
    (top, or the side wall facing the particle in x or y) is drawn with probability
    proportional to its projected area, then a point uniformly on it.
    """
    u = np.atleast_2d(np.asarray(direction, dtype=np.float64))
    m = u.shape[0]
    h = lat.ARRAY_HALF_WIDTH_MM
    w = 2.0 * h
    height = TRACKER_TOP_Z_MM - TRACKER_BOTTOM_Z_MM
    areas = np.column_stack(
        [w * w * np.abs(u[:, 2]), w * height * np.abs(u[:, 0]), w * height * np.abs(u[:, 1])]
    )
    cum = np.cumsum(areas, axis=1)
    pick = rng.random(m) * cum[:, -1]
    face = (pick[:, None] >= cum[:, :-1]).sum(axis=1)  # 0 top, 1 x wall, 2 y wall
    a, b = rng.uniform(-h, h, m), rng.uniform(-h, h, m)
    z = rng.uniform(TRACKER_BOTTOM_Z_MM, TRACKER_TOP_Z_MM, m)
    wall_x = -np.sign(u[:, 0]) * h  # the wall facing a particle moving along +x is at x = -h
    wall_y = -np.sign(u[:, 1]) * h
    x = np.select([face == 0, face == 1], [a, wall_x], a)
    y = np.select([face == 0, face == 1], [b, b], wall_y)
    zz = np.where(face == 0, TRACKER_TOP_Z_MM, z)
    return np.column_stack([x, y, zz])


def _scatter(rng: np.random.Generator, d: np.ndarray, theta0: np.ndarray) -> np.ndarray:
    """Deflect unit vectors ``d`` (m, 3) by Gaussian projected angles of width ``theta0``."""
    ref = np.where(np.abs(d[:, 2:3]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
    e1 = np.cross(d, ref)
    e1 /= np.linalg.norm(e1, axis=1)[:, None]
    e2 = np.cross(d, e1)
    a = rng.normal(0.0, 1.0, (d.shape[0], 2)) * theta0[:, None]
    out = d + a[:, :1] * e1 + a[:, 1:] * e2
    return out / np.linalg.norm(out, axis=1)[:, None]


#: X0 of matter a track crosses below each tracker plane before the next (tray + next foil)
PLANE_X0_BELOW = lat.TKR_TRAY_X0 + np.append(lat.FOIL_X0[1:], 0.0)


def _track_hits(
    rng: np.random.Generator,
    event: np.ndarray,
    start: np.ndarray,
    direction: np.ndarray,
    first_plane: np.ndarray,
    energy: np.ndarray | None,
) -> np.ndarray:
    """Strip hits (event-strip keys, :func:`event_strip_key`) of straight (``energy`` None) or
    scattered tracks from ``start`` (at/above ``first_plane``) down:
    :func:`fermi_latsim._kernels.track_hits`."""
    m = int(np.size(event))
    shape = (m, lat.N_TKR_PLANES, lat.N_VIEWS)
    nb_u = rng.random(shape, dtype=np.float32)  # a neighbour strip, and which one
    normals = rng.normal(0.0, 1.0, (m, lat.N_TKR_PLANES, 2)) if energy is not None else np.zeros((m, 1, 2))
    key = _kernels.track_hits(
        np.ascontiguousarray(event, np.int64),
        np.ascontiguousarray(start, np.float64).reshape(-1, 3),
        np.ascontiguousarray(direction, np.float64).reshape(-1, 3),
        np.ascontiguousarray(first_plane, np.int64),
        np.ascontiguousarray(np.zeros(m) if energy is None else energy, np.float64),
        energy is not None,
        nb_u,
        normals,
        np.ascontiguousarray(lat.TKR_LAYER_Z_MM, np.float64),
        np.ascontiguousarray(PLANE_X0_BELOW, np.float64),
        NEIGHBOUR_PROB,
    )
    return key


def _cal_deposits(
    rng: np.random.Generator,
    event: np.ndarray,
    vertex: np.ndarray,
    axis: np.ndarray,
    energy_per_layer: np.ndarray,
    spread: float,
) -> np.ndarray:
    """Log signals of deposits ``energy_per_layer`` (m, 8) along straight ``axis`` lines.

    In each layer the deposit goes to the log nearest to where the axis crosses the layer
    (:func:`fermi_l1.instrument.nearest_log`: the shower is wider than the gaps between logs),
    a fraction ``spread`` to each neighbouring log across (in the next tower if the axis is at a
    tower edge). Deposits landing in the same log are summed; what falls outside the tower array
    leaks away. Each log's signal fluctuates by ``LOG_NOISE`` and logs below the zero-suppression
    threshold are not read out.
    """
    key, e, e_off = _kernels.cal_entries(
        np.ascontiguousarray(event, np.int64),
        np.ascontiguousarray(vertex, np.float64).reshape(-1, 3),
        np.ascontiguousarray(axis, np.float64).reshape(-1, 3),
        np.ascontiguousarray(energy_per_layer, np.float64).reshape(-1, lat.N_CAL_LAYERS),
        float(spread),
        np.ascontiguousarray(lat.CAL_LAYER_Z_MM, np.float64),
        np.asarray(CAL_DEPTH_STEPS, np.float64),
        float(lat.CAL_LOG_HEIGHT_MM),
    )
    if key.size == 0:
        return np.zeros(0, LOG_DTYPE)
    uniq, inv = np.unique(key, return_inverse=True)
    dep = np.bincount(inv, weights=e, minlength=uniq.size)
    offset = np.bincount(inv, weights=e_off, minlength=uniq.size) / np.maximum(dep, 1e-300)
    dep = dep * np.clip(rng.normal(1.0, LOG_NOISE, uniq.size), 0.5, 1.5)
    keep = dep >= lat.CAL_LOG_THRESHOLD_MEV
    uniq, dep, offset = uniq[keep], dep[keep], offset[keep]
    epos, eneg = lat.cal_face_energies(dep, offset)
    rec = np.zeros(uniq.size, LOG_DTYPE)
    rec["column"] = uniq % lat.N_CAL_COLUMNS
    rec["layer"] = (uniq // lat.N_CAL_COLUMNS) % lat.N_CAL_LAYERS
    rec["tower"] = (uniq // (lat.N_CAL_COLUMNS * lat.N_CAL_LAYERS)) % lat.N_TOWERS
    rec["event"] = uniq // (lat.N_CAL_COLUMNS * lat.N_CAL_LAYERS * lat.N_TOWERS)
    rec["range_pos"], rec["adc_pos"] = lat.cal_energy_to_adc(epos)
    rec["range_neg"], rec["adc_neg"] = lat.cal_energy_to_adc(eneg)
    return rec


def shower_layer_fractions(
    rng: np.random.Generator, energy_mev: np.ndarray, t_start_x0: np.ndarray, layer_x0: np.ndarray
) -> np.ndarray:
    """Fraction of each photon's energy deposited in each calorimeter layer, shape (m, 8).

    The mean longitudinal profile is the instrument's (:func:`fermi_l1.instrument.shower_a`,
    :data:`~fermi_l1.instrument.SHOWER_B`: the one the reconstruction's leakage correction
    inverts); each shower's depth fluctuates: its shape parameter ``a`` is scaled by a log-normal
    factor of width ``SHOWER_DEPTH_SPREAD`` at 1 GeV (narrower above, as in GFLASH), so late or
    early showers leak more or less.
    ``t_start_x0`` is the depth (X0 along the axis) of the calorimeter top below the conversion
    point and ``layer_x0`` the depth of one layer along the axis.
    """
    y = np.log(np.maximum(np.asarray(energy_mev, np.float64), 100.0) / lat.CSI_CRITICAL_ENERGY_MEV)
    sigma = SHOWER_DEPTH_SPREAD * _GFLASH_1GEV / (0.86 * y - 0.58)
    a = lat.shower_a(energy_mev) * np.exp(sigma * rng.normal(0.0, 1.0, np.size(energy_mev)))
    a = np.maximum(a, 1.05)
    edges = t_start_x0[:, None] + layer_x0[:, None] * np.arange(lat.N_CAL_LAYERS + 1)
    cdf = lat.regularized_gamma_p(a[:, None], lat.SHOWER_B * edges)
    return np.diff(cdf, axis=1)


def simulate_response(
    rng: np.random.Generator,
    met: np.ndarray,
    body: np.ndarray,
    energy_mev: np.ndarray,
    charged: np.ndarray,
    dead: np.ndarray | None = None,
    entry: str = "top",
    *,
    other_triggers: np.ndarray | None = None,
    deadtime: DeadTime | None = None,
) -> Response:
    """Response of the LAT read out: :func:`respond`, then :func:`apply_dead_time`.

    ``other_triggers`` and ``deadtime`` (flight profile): sorted times of the triggers read out
    but rejected on board (not simulated; they make dead time too) and the run's dead-time state
    (updated). Default: only these events are read out, with ``DEAD_TIME_S`` each.
    """
    resp = respond(rng, met, body, energy_mev, charged, dead, entry)
    return apply_dead_time(resp, other_triggers, deadtime)


@dataclass
class Triggered:
    """The LAT's response to every particle of :func:`trigger`, hit tables numbered by particle,
    and the particles that triggered (``cand``); :meth:`response` selects and renumbers once."""

    met: np.ndarray
    conv: np.ndarray
    tkr_vec: np.ndarray
    le_vec: np.ndarray
    he_vec: np.ndarray
    has_acd: np.ndarray
    strips: np.ndarray
    logs: np.ndarray
    log_e: np.ndarray
    acd: np.ndarray
    cand: np.ndarray  # (k,) particles that triggered, in time order

    def response(self, keep: np.ndarray | None = None) -> Response:
        """The :class:`Response` of the triggered particles ``cand[keep]`` (default: all).

        Counters count every particle: ``n_not_triggered`` those that did not trigger.
        """
        n = self.met.size
        sel_ev = self.cand if keep is None else self.cand[np.asarray(keep, np.int64)]
        remap = np.full(n, -1, np.int64)
        remap[sel_ev] = np.arange(sel_ev.size)

        def _keep(table: np.ndarray) -> np.ndarray:
            ev = remap[table["event"]]
            ok = ev >= 0
            t = table[ok]  # a copy
            t["event"] = ev[ok]
            return t

        log_ev = remap[self.logs["event"]]
        sel = log_ev >= 0
        return Response(
            source=sel_ev.astype(np.int64),
            met=self.met[sel_ev],
            conversion_plane=self.conv[sel_ev],
            tkr_vector=self.tkr_vec[sel_ev],
            cal_le_vector=self.le_vec[sel_ev],
            cal_he_vector=self.he_vec[sel_ev],
            roi_vector=np.where(self.has_acd[sel_ev], self.tkr_vec[sel_ev], 0).astype(np.uint16),
            cal_energy_mev=np.bincount(log_ev[sel], weights=self.log_e[sel], minlength=sel_ev.size),
            strips=_keep(self.strips),
            logs=_keep(self.logs),
            acd=_keep(self.acd),
            discarded=np.zeros(sel_ev.size, np.int64),
            n_arrivals=n,
            n_not_triggered=int(n - self.cand.size),
        )


def respond(
    rng: np.random.Generator,
    met: np.ndarray,
    body: np.ndarray,
    energy_mev: np.ndarray,
    charged: np.ndarray,
    dead: np.ndarray | None = None,
    entry: str = "top",
) -> Response:
    """Triggered response (before the read-out dead time): ``trigger(...).response()``."""
    return trigger(rng, met, body, energy_mev, charged, dead, entry).response()


def trigger(
    rng: np.random.Generator,
    met: np.ndarray,
    body: np.ndarray,
    energy_mev: np.ndarray,
    charged: np.ndarray,
    dead: np.ndarray | None = None,
    entry: str = "top",
) -> Triggered:
    """Response of the LAT to particles arriving at times ``met`` from body directions ``body``,
    and which of them trigger (before the read-out dead time).

    Parameters
    ----------
    met, body, energy_mev, charged
        Per particle: time (sorted), unit vector toward the origin in the instrument frame
        (``body[:, 2] > 0``), energy and whether it is charged (cosmic ray) or a photon.
    dead
        Global numbers of dead strips (:func:`dead_strips` by default).
    entry
        Where particles enter: ``"top"``, uniformly over the tracker top (the rate
        ``flux x top area x cos(theta)`` of :mod:`fermi_latsim.sky` assumes this), or
        ``"volume"``, uniformly over the tracker's projected area (:func:`entry_points`, rate
        ``flux x`` :func:`projected_area_mm2`), which adds the photons entering through the side
        walls: at 60 deg they are more than half, and, converting low in the tracker, they are
        the ones that shower in the calorimeter.
    """
    if entry not in ("top", "volume"):
        raise ValueError(f"parameter 'entry': 'top' or 'volume', got {entry!r}")
    n = met.size
    dead = dead_strips() if dead is None else dead
    h = lat.ARRAY_HALF_WIDTH_MM
    u = -np.asarray(body, dtype=np.float64)  # direction of travel
    if entry == "volume":
        start = entry_points(rng, u)
    else:
        start = np.column_stack([rng.uniform(-h, h, n), rng.uniform(-h, h, n), np.full(n, TRACKER_TOP_Z_MM)])
    cos = np.maximum(-u[:, 2], 1e-3)

    # --- photons: conversion plane (only foils the photon crosses inside the tracker) ---
    conv = np.full(n, -1, np.int16)
    undecided = ~np.asarray(charged, bool)
    for plane in range(lat.N_TKR_PLANES):
        with np.errstate(divide="ignore", invalid="ignore"):
            at = start + ((lat.FOIL_Z_MM[plane] - start[:, 2]) / u[:, 2])[:, None] * u
        crosses = (lat.FOIL_Z_MM[plane] <= start[:, 2]) & (np.abs(at[:, 0]) < h) & (np.abs(at[:, 1]) < h)
        x0 = lat.FOIL_X0[plane] / cos
        hit = undecided & crosses & (rng.random(n) < 1.0 - np.exp(-7.0 / 9.0 * x0))
        conv[hit] = plane
        undecided &= ~hit
    with np.errstate(divide="ignore", invalid="ignore"):
        step = (lat.FOIL_Z_MM[np.maximum(conv, 0)] - start[:, 2]) / u[:, 2]
    vertex = start + np.where(conv >= 0, step, 0.0)[:, None] * u
    photon = conv >= 0
    is_cr = np.asarray(charged, bool)

    # --- tracker hits ---
    ip = np.flatnonzero(photon)
    frac = rng.uniform(0.1, 0.9, ip.size)
    pieces = []
    for share in (frac, 1.0 - frac):
        e_lep = energy_mev[ip] * share
        d0 = _scatter(rng, u[ip], 0.511 / np.maximum(e_lep, 1.0))  # pair opening ~ m_e / E
        pieces.append(_track_hits(rng, ip, vertex[ip], d0, conv[ip].astype(np.int64), e_lep))
    ic = np.flatnonzero(is_cr)
    pieces.append(_track_hits(rng, ic, start[ic], u[ic], np.zeros(ic.size, np.int64), None))
    n_noise = rng.poisson(NOISE_STRIPS_PER_EVENT * n)
    noise = [
        rng.integers(0, hi, n_noise)
        for hi in (max(n, 1), lat.N_TOWERS, lat.N_TKR_PLANES, lat.N_VIEWS, lat.N_STRIPS)
    ]  # event, tower, plane, view, strip
    pieces.append(event_strip_key(*noise))
    # sorted by (event, tower, plane, view, strip), duplicates merged, dead strips removed
    strips = strip_table(live_strip_keys(np.concatenate(pieces), dead) if n else np.zeros(0, np.int64))

    # --- calorimeter ---
    tkr_x0 = lat.TKR_X0_BELOW[np.maximum(conv, 0)] / cos
    frac_ph = shower_layer_fractions(rng, energy_mev[ip], tkr_x0[ip], lat.CAL_LAYER_X0 / cos[ip])
    mip = np.repeat((MIP_CSI_MEV_PER_MM * lat.CAL_LOG_HEIGHT_MM / cos[ic])[:, None], lat.N_CAL_LAYERS, 1)
    logs = np.concatenate(
        [
            _cal_deposits(rng, ip, vertex[ip], u[ip], energy_mev[ip, None] * frac_ph, SHOWER_SPREAD),
            _cal_deposits(rng, ic, start[ic], u[ic], mip, 0.0),
        ]
    )
    logs = logs[np.argsort(logs["event"], kind="stable")]

    # --- ACD ---
    tile, _ = lat.acd_ray_intersection(start[ic], -u[ic])
    e_acd = rng.gamma(4.0, lat.ACD_MIP_MEV / 4.0, ic.size) / np.maximum(cos[ic], 0.2)
    backsplash = ip[rng.random(ip.size) < np.minimum(0.3, 0.03 * np.sqrt(energy_mev[ip] / 1e4))]
    bs_tile = rng.choice(lat.ACD_TILE_IDS, backsplash.size)
    acd_event = np.concatenate([ic[tile >= 0], backsplash])
    acd_id = np.concatenate([tile[tile >= 0], bs_tile]).astype(np.int16)
    acd_e = np.concatenate([e_acd[tile >= 0], rng.exponential(0.5, backsplash.size)])
    hit = acd_e >= ACD_THRESHOLD_MEV
    acd = np.zeros(int(hit.sum()), ACD_DTYPE)
    acd["event"], acd["id"] = acd_event[hit], acd_id[hit]
    acd["flags"] = 0b1111
    pha = np.minimum(np.rint(acd_e[hit] * lat.ACD_PHA_PER_MEV), 4095).astype(np.uint16)
    acd["pha_a"] = pha
    acd["pha_b"] = np.minimum(np.rint(pha * rng.normal(1.0, 0.05, pha.size)), 4095).astype(np.uint16)
    acd = unique_rows(acd)

    # --- trigger ---
    log_e = np.sqrt(
        lat.cal_adc_to_energy(logs["range_pos"], logs["adc_pos"])
        * lat.cal_adc_to_energy(logs["range_neg"], logs["adc_neg"])
    )
    tkr_vec, le_vec, he_vec = _kernels.trigger_vectors(
        n,
        np.ascontiguousarray(strips["event"], np.int64),
        np.ascontiguousarray(strips["tower"], np.int64),
        np.ascontiguousarray(strips["plane"], np.int64),
        np.ascontiguousarray(strips["view"], np.int64),
        np.ascontiguousarray(logs["event"], np.int64),
        np.ascontiguousarray(logs["tower"], np.int64),
        np.ascontiguousarray(log_e, np.float64),
        CAL_LO_MEV,
        CAL_HI_MEV,
    )
    cand = np.flatnonzero((tkr_vec > 0) | (he_vec > 0))
    has_acd = np.zeros(n, bool)
    has_acd[acd_event[hit]] = True
    return Triggered(met, conv, tkr_vec, le_vec, he_vec, has_acd, strips, logs, log_e, acd, cand)


def subset(resp: Response, keep: np.ndarray) -> Response:
    """The events ``keep`` (sorted indices) of ``resp``, hit tables renumbered; counters kept."""
    keep = np.asarray(keep, np.int64)
    remap = np.full(len(resp), -1, np.int64)
    remap[keep] = np.arange(keep.size)

    def _keep(table: np.ndarray) -> np.ndarray:
        t = table[remap[table["event"]] >= 0]
        t["event"] = remap[t["event"]]
        return t

    return replace(
        resp,
        source=resp.source[keep],
        met=resp.met[keep],
        conversion_plane=resp.conversion_plane[keep],
        tkr_vector=resp.tkr_vector[keep],
        cal_le_vector=resp.cal_le_vector[keep],
        cal_he_vector=resp.cal_he_vector[keep],
        roi_vector=resp.roi_vector[keep],
        cal_energy_mev=resp.cal_energy_mev[keep],
        strips=_keep(resp.strips),
        logs=_keep(resp.logs),
        acd=_keep(resp.acd),
        discarded=resp.discarded[keep],
        readouts_before=None if resp.readouts_before is None else resp.readouts_before[keep],
    )


def apply_dead_time(
    resp: Response, other_triggers: np.ndarray | None = None, deadtime: DeadTime | None = None
) -> Response:
    """The events of ``resp`` (triggered, in time order) read out after the read-out dead time.

    Without ``deadtime`` only these events are read out, ``DEAD_TIME_S`` each (the light
    profile); with it, ``other_triggers`` (sorted times of triggers rejected on board) make dead
    time too, ``deadtime`` is updated and ``readouts_before`` is set.
    """
    met = np.ascontiguousarray(resp.met, np.float64)
    if deadtime is None:
        ok, _, lost_at, _, _, lost = _kernels.dead_time(met, np.zeros(0), DEAD_TIME_S, -np.inf, 0, 0)
        discarded = np.cumsum(lost_at[ok]) if ok.any() else np.zeros(0, np.int64)
        readouts_before = None
    else:
        n_lost0 = deadtime.lost
        other = np.zeros(0) if other_triggers is None else other_triggers
        ok, before, lost_at, *state = _kernels.dead_time(
            met,
            np.ascontiguousarray(other, np.float64),
            deadtime.dead_s,
            deadtime.last,
            deadtime.readouts,
            deadtime.lost,
        )
        deadtime.last, deadtime.readouts, deadtime.lost = float(state[0]), int(state[1]), int(state[2])
        lost = deadtime.lost - n_lost0
        discarded, readouts_before = lost_at[ok], before[ok]
    out = subset(resp, np.flatnonzero(ok))
    out.discarded = np.asarray(discarded, dtype=np.int64)
    out.readouts_before = readouts_before
    out.n_dead_time = int(lost)
    return out
