"""A small photon "test beam" with known truth, made with the instrument model.

For tests and benchmarks of the reconstruction, not a detector simulation (that is
fermi-latsim): one straight electron track per photon, from the conversion point down, with
multiple-scattering kinks at every foil, strip efficiency and noise, a mean longitudinal shower
profile in the calorimeter with per-log fluctuations, and optionally charged particles that fire
the ACD tile they cross.
"""

from __future__ import annotations

import numpy as np

from fermi_l1 import instrument as inst
from fermi_l1.digi import DigiEvents, make_events

from . import params as P


def simulate_photons(
    energy_mev: np.ndarray,
    theta_deg: np.ndarray,
    phi_deg: np.ndarray,
    rng: np.random.Generator,
    *,
    strip_efficiency: float = 0.98,
    noise_strips: float = 2.0,
    log_noise: float = 0.05,
    charged: np.ndarray | None = None,
    impact_half_width_mm: float = 650.0,
) -> tuple[DigiEvents, dict[str, np.ndarray]]:
    """Return (digi events, truth) for photons of the given energies and directions.

    Parameters
    ----------
    energy_mev, theta_deg, phi_deg
        Per event (broadcast): true energy and source direction in the instrument frame.
    rng
        Random generator.
    strip_efficiency
        Probability that a crossed strip fires.
    noise_strips
        Mean number of random noise strips per event (whole tracker).
    log_noise
        Relative Gaussian fluctuation of each log's deposit.
    charged
        Bool per event: a charged particle (ACD tile crossed on the way in fires with one MIP).
    impact_half_width_mm
        Impact points at the top of the tracker are uniform in this half width.

    Returns
    -------
    events, truth
        ``truth`` holds ``energy``, ``theta``, ``phi``, ``direction`` (n, 3) towards the source,
        ``conversion_plane`` (-1 if the photon crossed the tracker unconverted),
        ``conversion_type``, ``vertex`` (n, 3) mm (conversion point; below the tracker if
        unconverted) and ``charged``.
    """
    e, th, ph = np.broadcast_arrays(
        np.asarray(energy_mev, dtype=np.float64),
        np.asarray(theta_deg, dtype=np.float64),
        np.asarray(phi_deg, dtype=np.float64),
    )
    n = e.size
    e, th, ph = e.ravel(), np.radians(th.ravel()), np.radians(ph.ravel())
    src = np.stack([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)], axis=1)
    travel = -src
    charged = np.zeros(n, dtype=bool) if charged is None else np.broadcast_to(charged, (n,)).copy()
    cos_t = np.maximum(np.cos(th), 0.05)
    # conversion plane: pair production probability 7/9 per X0 of foil + tray
    conv = np.full(n, -1, dtype=np.int64)
    for p in range(inst.N_TKR_PLANES):
        x0 = (inst.FOIL_X0[p] + inst.TKR_TRAY_X0) / cos_t
        hit = (conv < 0) & (rng.random(n) < 1.0 - np.exp(-7.0 / 9.0 * x0))
        conv[hit] = p
    # impact point at the conversion foil
    top = inst.FOIL_Z_MM[np.maximum(conv, 0)]
    x = rng.uniform(-impact_half_width_mm, impact_half_width_mm, n)
    y = rng.uniform(-impact_half_width_mm, impact_half_width_mm, n)
    pos = np.stack([x, y, np.where(conv >= 0, top, inst.FOIL_Z_MM[-1] - 5.0)], axis=1)

    ev: list[np.ndarray] = []
    tw: list[np.ndarray] = []
    pl: list[np.ndarray] = []
    vw: list[np.ndarray] = []
    st: list[np.ndarray] = []
    d = travel.copy()
    cur = pos.copy()
    ids = np.arange(n)
    for p in range(inst.N_TKR_PLANES):
        active = conv >= 0
        active &= conv <= p
        for v in range(2):
            z = inst.TKR_LAYER_Z_MM[p, v]
            t = (z - cur[:, 2]) / d[:, 2]
            at = cur + t[:, None] * d
            tower, strip = inst.locate_strip(at[:, 0], at[:, 1], v)
            ok = active & (tower >= 0) & (rng.random(n) < strip_efficiency)
            ev.append(ids[ok])
            tw.append(tower[ok])
            pl.append(np.full(ok.sum(), p))
            vw.append(np.full(ok.sum(), v))
            st.append(strip[ok])
            # a second strip when the crossing is near a strip edge
            u = np.where(v == 0, at[:, 0], at[:, 1])
            centre = inst.strip_position_mm(np.maximum(tower, 0), v, np.maximum(strip, 0))
            frac = (u - centre) / inst.STRIP_PITCH_MM
            two = ok & (np.abs(frac) > 0.3)
            nb = strip + np.where(frac > 0, 1, -1)
            two &= (
                (nb >= 0)
                & (nb < inst.N_STRIPS)
                & (nb // inst.STRIPS_PER_WAFER == strip // inst.STRIPS_PER_WAFER)
            )
            ev.append(ids[two])
            tw.append(tower[two])
            pl.append(np.full(two.sum(), p))
            vw.append(np.full(two.sum(), v))
            st.append(nb[two])
        # move to the next plane's foil and scatter in this plane's material
        z_next = inst.FOIL_Z_MM[p + 1] if p + 1 < inst.N_TKR_PLANES else inst.TKR_LAYER_Z_MM[-1, 1] - 1.0
        started = conv >= 0
        started &= conv <= p
        t = (z_next - cur[:, 2]) / d[:, 2]
        cur = np.where(started[:, None], cur + t[:, None] * d, cur)
        foil_next = inst.FOIL_X0[p + 1] if p + 1 < inst.N_TKR_PLANES else 0.0
        x0 = (foil_next + inst.TKR_TRAY_X0) / np.abs(d[:, 2])
        theta0 = P.HIGHLAND_MEV / (0.5 * e) * np.sqrt(x0) * (1.0 + 0.038 * np.log(x0))
        kick = rng.normal(0.0, 1.0, (n, 2)) * theta0[:, None]
        d_new = d + kick[:, 0:1] * _perp(d, 0) + kick[:, 1:2] * _perp(d, 1)
        d_new /= np.linalg.norm(d_new, axis=1, keepdims=True)
        d = np.where(started[:, None] & (d_new[:, 2:3] < -0.05), d_new, d)
    n_noise = rng.poisson(noise_strips, n)
    noise_ev = np.repeat(ids, n_noise)
    m = noise_ev.size
    ev.append(noise_ev)
    tw.append(rng.integers(0, 16, m))
    pl.append(rng.integers(0, 18, m))
    vw.append(rng.integers(0, 2, m))
    st.append(rng.integers(0, inst.N_STRIPS, m))
    tkr = {
        "event": np.concatenate(ev),
        "tower": np.concatenate(tw),
        "plane": np.concatenate(pl),
        "view": np.concatenate(vw),
        "strip": np.concatenate(st),
    }
    cal = _calorimeter(e, travel, pos, conv, cos_t, log_noise, rng)
    acd = _acd(travel, pos, charged)
    header = {
        "gem_sequence": np.arange(n, dtype=np.uint64),
        "trigger_ticks": np.arange(n, dtype=np.uint64) * 1000,
        "tone_seconds": np.full(n, 1000, dtype=np.uint64),
        "prev_tone_seconds": np.full(n, 999, dtype=np.uint64),
        "prev_tone_ticks": np.full(n, 33554432 - 20_000_000, dtype=np.uint64),
        "event_summary": (np.arange(n, dtype=np.uint64) << 2) & 0x1FFFF,
    }
    truth = {
        "energy": e,
        "theta": np.degrees(th),
        "phi": np.degrees(ph) % 360.0,
        "direction": src,
        "conversion_plane": conv,
        "conversion_type": inst.conversion_type(conv),
        "vertex": pos,
        "charged": charged,
    }
    return make_events(header, tkr, cal, acd), truth


def _perp(d: np.ndarray, k: int) -> np.ndarray:
    ref = np.where(np.abs(d[:, 0:1]) < 0.9, np.array([[1.0, 0.0, 0.0]]), np.array([[0.0, 1.0, 0.0]]))
    a = np.cross(d, ref)
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    return a if k == 0 else np.cross(d, a)


def _calorimeter(
    e: np.ndarray,
    travel: np.ndarray,
    pos: np.ndarray,
    conv: np.ndarray,
    cos_t: np.ndarray,
    noise: float,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    n = e.size
    t0 = np.where(conv >= 0, inst.TKR_X0_BELOW[np.maximum(conv, 0)], 0.0) / cos_t
    rows: dict[str, list[np.ndarray]] = {
        k: [] for k in ("event", "tower", "layer", "column", "energy", "offset")
    }
    for layer in range(inst.N_CAL_LAYERS):
        z = inst.CAL_LAYER_Z_MM[layer]
        t = (z - pos[:, 2]) / travel[:, 2]
        at = pos + t[:, None] * travel
        lo = t0 + layer * inst.CAL_LAYER_X0 / cos_t
        dep = e * inst.shower_fraction(e, lo, lo + inst.CAL_LAYER_X0 / cos_t)
        # lateral sharing: 80 % in the crossed log, 10 % in each neighbour [toy]
        along_x = layer % 2 == 0
        for shift, share in ((0.0, 0.8), (-1.0, 0.1), (1.0, 0.1)):
            off = shift * inst.CAL_COLUMN_PITCH_MM
            x = at[:, 0] + (0.0 if along_x else off)
            y = at[:, 1] + (off if along_x else 0.0)
            tower, lay, col, along = inst.nearest_log(x, y, np.full(n, z))
            de = dep * share * np.maximum(1.0 + noise * rng.normal(size=n), 0.0)
            ok = (tower >= 0) & (de >= inst.CAL_LOG_THRESHOLD_MEV)
            for key, val in (
                ("event", np.flatnonzero(ok)),
                ("tower", tower[ok]),
                ("layer", lay[ok]),
                ("column", col[ok]),
                ("energy", de[ok]),
                ("offset", along[ok]),
            ):
                rows[key].append(val)
    cat = {k: np.concatenate(v) for k, v in rows.items()}
    fpos, fneg = inst.cal_face_energies(cat["energy"], cat["offset"])
    rp, ap = inst.cal_energy_to_adc(fpos)
    rn, an = inst.cal_energy_to_adc(fneg)
    return {
        "event": cat["event"],
        "tower": cat["tower"],
        "layer": cat["layer"],
        "column": cat["column"],
        "range_pos": rp,
        "range_neg": rn,
        "adc_pos": ap,
        "adc_neg": an,
    }


def _acd(travel: np.ndarray, pos: np.ndarray, charged: np.ndarray) -> dict[str, np.ndarray]:
    idx = np.flatnonzero(charged)
    tile, _ = inst.acd_ray_intersection(pos[idx], -travel[idx])
    ok = tile >= 0
    pha, high = inst.acd_mev_to_pha(np.full(ok.sum(), inst.ACD_MIP_MEV))
    return {
        "event": idx[ok],
        "id": tile[ok],
        "flags": np.full(ok.sum(), 15),
        "ranges": np.where(high, 3, 0),
        "pha_a": pha,
        "pha_b": pha,
    }
