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

import itertools
from dataclasses import dataclass

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


def unique_strips(strips: np.ndarray) -> np.ndarray:
    """``np.unique`` of a :data:`STRIP_DTYPE` table, through one int64 key (same order, faster)."""
    if strips.size == 0:
        return strips[:0].copy()
    key = strips["event"].astype(np.int64) * (lat.N_TOWERS * STRIPS_PER_TOWER) + strip_key(
        strips["tower"], strips["plane"], strips["view"], strips["strip"]
    )
    _, first = np.unique(key, return_index=True)
    return strips[first]


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


def _highland(energy_mev: np.ndarray, x_x0: np.ndarray) -> np.ndarray:
    x = np.maximum(x_x0, 1e-6)
    return 13.6 / np.maximum(energy_mev, 1.0) * np.sqrt(x) * (1.0 + 0.038 * np.log(x))


def _scatter(rng: np.random.Generator, d: np.ndarray, theta0: np.ndarray) -> np.ndarray:
    """Deflect unit vectors ``d`` (m, 3) by Gaussian projected angles of width ``theta0``."""
    ref = np.where(np.abs(d[:, 2:3]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
    e1 = np.cross(d, ref)
    e1 /= np.linalg.norm(e1, axis=1)[:, None]
    e2 = np.cross(d, e1)
    a = rng.normal(0.0, 1.0, (d.shape[0], 2)) * theta0[:, None]
    out = d + a[:, :1] * e1 + a[:, 1:] * e2
    return out / np.linalg.norm(out, axis=1)[:, None]


def _track_hits(
    rng: np.random.Generator,
    event: np.ndarray,
    start: np.ndarray,
    direction: np.ndarray,
    first_plane: np.ndarray,
    energy: np.ndarray | None,
) -> list[np.ndarray]:
    """Strip hits of straight-or-scattered tracks from ``start`` (at/above ``first_plane``) down."""
    pos = start.copy()
    d = direction.copy()
    out = []
    for plane in range(lat.N_TKR_PLANES):
        for view in range(lat.N_VIEWS):
            z = lat.TKR_LAYER_Z_MM[plane, view]
            active = first_plane <= plane
            with np.errstate(divide="ignore", invalid="ignore"):
                step = (z - pos[:, 2]) / d[:, 2]
            pos = np.where(active[:, None], pos + step[:, None] * d, pos)
            tower, strip = lat.locate_strip(pos[:, 0], pos[:, 1], np.full(pos.shape[0], view))
            ok = active & (tower >= 0)
            rec = np.zeros(int(ok.sum()), STRIP_DTYPE)
            rec["event"], rec["tower"], rec["plane"], rec["view"], rec["strip"] = (
                event[ok],
                tower[ok],
                plane,
                view,
                strip[ok],
            )
            out.append(rec)
            nb = rec[rng.random(rec.size) < NEIGHBOUR_PROB].copy()
            nb["strip"] = np.clip(nb["strip"] + rng.choice([-1, 1], nb.size), 0, lat.N_STRIPS - 1)
            out.append(nb)
        if energy is not None:
            x0 = (
                lat.TKR_TRAY_X0 + (lat.FOIL_X0[plane + 1] if plane + 1 < lat.N_TKR_PLANES else 0.0)
            ) / np.abs(d[:, 2])
            active = first_plane <= plane
            d = np.where(active[:, None], _scatter(rng, d, _highland(energy, x0)), d)
    return out


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
    ev_l, tw_l, ly_l, co_l, e_l, off_l = [], [], [], [], [], []
    for layer, dz in itertools.product(range(lat.N_CAL_LAYERS), CAL_DEPTH_STEPS):
        z = lat.CAL_LAYER_Z_MM[layer] + dz * lat.CAL_LOG_HEIGHT_MM
        with np.errstate(divide="ignore", invalid="ignore"):
            step = (z - vertex[:, 2]) / axis[:, 2]
        p = vertex + step[:, None] * axis
        along_x = layer % 2 == 0  # even layers: logs along X, the column measures y
        for shift, share in ((0.0, 1.0 - 2 * spread), (-1.0, spread), (1.0, spread)):
            share /= len(CAL_DEPTH_STEPS)
            if share <= 0:
                continue
            d = shift * lat.CAL_COLUMN_PITCH_MM
            x = p[:, 0] + (0.0 if along_x else d)
            y = p[:, 1] + (d if along_x else 0.0)
            tower, lay, col, along = lat.nearest_log(x, y, np.full(p.shape[0], z))
            e = energy_per_layer[:, layer] * share
            ok = (tower >= 0) & (lay == layer) & (e > 0) & np.isfinite(along)
            ev_l.append(event[ok])
            tw_l.append(tower[ok])
            ly_l.append(lay[ok])
            co_l.append(col[ok])
            e_l.append(e[ok])
            off_l.append(along[ok])
    if not ev_l:
        return np.zeros(0, LOG_DTYPE)
    ev, tw, ly, co = (np.concatenate(a).astype(np.int64) for a in (ev_l, tw_l, ly_l, co_l))
    e, off = np.concatenate(e_l), np.concatenate(off_l)
    key = ((ev * lat.N_TOWERS + tw) * lat.N_CAL_LAYERS + ly) * lat.N_CAL_COLUMNS + co
    uniq, inv = np.unique(key, return_inverse=True)
    dep = np.bincount(inv, weights=e, minlength=uniq.size)
    offset = np.bincount(inv, weights=e * off, minlength=uniq.size) / np.maximum(dep, 1e-300)
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
    """Response of the LAT to particles arriving at times ``met`` from body directions ``body``.

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
    other_triggers, deadtime
        Flight profile: sorted times of the triggers read out but rejected on board (not
        simulated; they make dead time too) and the run's dead-time state (updated). Default:
        only these events are read out, with ``DEAD_TIME_S`` each.
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
        pieces += _track_hits(rng, ip, vertex[ip], d0, conv[ip].astype(np.int64), e_lep)
    ic = np.flatnonzero(is_cr)
    pieces += _track_hits(rng, ic, start[ic], u[ic], np.zeros(ic.size, np.int64), None)
    n_noise = rng.poisson(NOISE_STRIPS_PER_EVENT * n)
    noise = np.zeros(n_noise, STRIP_DTYPE)
    noise["event"] = rng.integers(0, max(n, 1), n_noise)
    noise["tower"] = rng.integers(0, lat.N_TOWERS, n_noise)
    noise["plane"] = rng.integers(0, lat.N_TKR_PLANES, n_noise)
    noise["view"] = rng.integers(0, lat.N_VIEWS, n_noise)
    noise["strip"] = rng.integers(0, lat.N_STRIPS, n_noise)
    strips = np.concatenate([*pieces, noise]) if n else np.zeros(0, STRIP_DTYPE)
    strips = unique_strips(strips)  # sorted by (event, tower, plane, view, strip), duplicates merged
    key = strip_key(strips["tower"], strips["plane"], strips["view"], strips["strip"])
    strips = strips[~np.isin(key, dead)]

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
    acd = np.unique(acd) if acd.size else acd

    # --- trigger ---
    plane_hit = np.zeros((n, lat.N_TOWERS, lat.N_TKR_PLANES, lat.N_VIEWS), bool)
    plane_hit[strips["event"], strips["tower"], strips["plane"], strips["view"]] = True
    xy = plane_hit.all(axis=3)
    three = xy[:, :, :-2] & xy[:, :, 1:-1] & xy[:, :, 2:]
    tkr_towers = three.any(axis=2)
    log_e = np.sqrt(
        lat.cal_adc_to_energy(logs["range_pos"], logs["adc_pos"])
        * lat.cal_adc_to_energy(logs["range_neg"], logs["adc_neg"])
    )
    cal_le = np.zeros((n, lat.N_TOWERS), bool)
    cal_he = np.zeros((n, lat.N_TOWERS), bool)
    cal_le[logs["event"][log_e >= CAL_LO_MEV], logs["tower"][log_e >= CAL_LO_MEV]] = True
    cal_he[logs["event"][log_e >= CAL_HI_MEV], logs["tower"][log_e >= CAL_HI_MEV]] = True
    weights = 1 << np.arange(lat.N_TOWERS)
    trig = tkr_towers.any(axis=1) | cal_he.any(axis=1)

    # --- dead time: a trigger within the dead time of the last read-out is discarded ---
    cand = np.flatnonzero(trig)
    if deadtime is None:  # only the simulated events are read out (the light profile)
        ok, _, lost_at, _, _, lost = _kernels.dead_time(
            np.ascontiguousarray(met[cand], np.float64), np.zeros(0), DEAD_TIME_S, -np.inf, 0, 0
        )
        discarded = np.cumsum(lost_at[ok]) if ok.any() else np.zeros(0, np.int64)
        readouts_before = None
    else:
        n_lost0 = deadtime.lost
        ok, before, lost_at, *state = _kernels.dead_time(
            np.ascontiguousarray(met[cand], np.float64),
            np.ascontiguousarray(other_triggers, np.float64),
            deadtime.dead_s,
            deadtime.last,
            deadtime.readouts,
            deadtime.lost,
        )
        deadtime.last, deadtime.readouts, deadtime.lost = float(state[0]), int(state[1]), int(state[2])
        lost = deadtime.lost - n_lost0
        discarded, readouts_before = lost_at[ok], before[ok]
    acc = cand[ok].astype(np.int64)
    remap = np.full(n, -1, np.int64)
    remap[acc] = np.arange(acc.size)

    def _keep(table: np.ndarray) -> np.ndarray:
        t = table[remap[table["event"]] >= 0].copy()
        t["event"] = remap[t["event"]]
        return t

    kept_logs = _keep(logs)
    return Response(
        source=acc,
        met=met[acc],
        conversion_plane=conv[acc],
        tkr_vector=(tkr_towers[acc] * weights).sum(axis=1).astype(np.uint16),
        cal_le_vector=(cal_le[acc] * weights).sum(axis=1).astype(np.uint16),
        cal_he_vector=(cal_he[acc] * weights).sum(axis=1).astype(np.uint16),
        roi_vector=np.where(np.isin(acc, acd_event[hit]), tkr_towers[acc] @ weights, 0).astype(np.uint16),
        cal_energy_mev=np.bincount(
            remap[logs["event"]][remap[logs["event"]] >= 0],
            weights=log_e[remap[logs["event"]] >= 0],
            minlength=acc.size,
        ),
        strips=_keep(strips),
        logs=kept_logs,
        acd=_keep(acd),
        discarded=np.asarray(discarded, dtype=np.int64),
        n_arrivals=n,
        n_not_triggered=int(n - trig.sum()),
        n_dead_time=int(lost),
        readouts_before=readouts_before,
    )
