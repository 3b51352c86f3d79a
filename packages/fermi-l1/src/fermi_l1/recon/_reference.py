"""Plain-numpy twins of the kernels in :mod:`._kernels` (same names, signatures and results).

Vectorised where numpy allows it; the track finder walks events in Python. Used as the oracle
in tests and as the baseline of ``bench/bench_recon.py``.
"""

from __future__ import annotations

import numpy as np

from fermi_l1 import instrument as inst

from . import params as P


def cluster_hits(
    tkr_ptr: np.ndarray,
    tower: np.ndarray,
    plane: np.ndarray,
    view: np.ndarray,
    strip: np.ndarray,
    cfg: np.ndarray | None = None,
) -> tuple[np.ndarray, ...]:
    """Twin of :func:`._kernels.cluster_hits` (``cfg`` unused: constants come from ``instrument``)."""
    n = tkr_ptr.shape[0] - 1
    m = tower.shape[0]
    event = np.repeat(np.arange(n), np.diff(tkr_ptr))
    s = strip.astype(np.int64)
    new = np.ones(m, dtype=bool)
    if m > 1:
        same = (
            (event[1:] == event[:-1])
            & (tower[1:] == tower[:-1])
            & (plane[1:] == plane[:-1])
            & (view[1:] == view[:-1])
            & (s[1:] == s[:-1] + 1)
            & (s[1:] // inst.STRIPS_PER_WAFER == s[:-1] // inst.STRIPS_PER_WAFER)
        )
        new[1:] = ~same
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], m) - 1
    clu_ptr = np.zeros(n + 1, dtype=np.int64)
    clu_ptr[1:] = np.cumsum(np.bincount(event[starts], minlength=n))
    t = tower[starts]
    v = view[starts]
    pos = 0.5 * (inst.strip_position_mm(t, v, s[starts]) + inst.strip_position_mm(t, v, s[ends]))
    return (
        clu_ptr,
        plane[starts].astype(np.int16),
        v.astype(np.int16),
        t.astype(np.int16),
        (ends - starts + 1).astype(np.int16),
        pos.astype(np.float64),
        inst.TKR_LAYER_Z_MM[plane[starts], v].astype(np.float64),
    )


def _fit(u: np.ndarray, z: np.ndarray) -> tuple[float, float, float, float]:
    zb, ub = z.mean(), u.mean()
    szz = np.sum((z - zb) ** 2)
    slope = np.sum((z - zb) * (u - ub)) / szz
    icpt = ub - slope * zb
    s2 = P.SIGMA_HIT_MM**2
    return slope, icpt, np.sum((u - icpt - slope * z) ** 2) / s2, s2 / szz


def find_tracks(
    clu_ptr: np.ndarray,
    clu_plane: np.ndarray,
    clu_view: np.ndarray,
    clu_pos: np.ndarray,
    clu_z: np.ndarray,
    e_est: np.ndarray,
    window_mm: float,
    max_gap: int,
    seed_planes: int,
    cfg: np.ndarray | None = None,
) -> tuple[np.ndarray, ...]:
    """Twin of :func:`._kernels.find_tracks`."""
    x0_plane = inst.FOIL_X0 + inst.TKR_TRAY_X0
    n = clu_ptr.shape[0] - 1
    nhits = np.zeros((n, 2), dtype=np.int16)
    first = np.full((n, 2), -1, dtype=np.int16)
    last = np.full((n, 2), -1, dtype=np.int16)
    out = {k: np.full((n, 2), np.nan) for k in ("slope", "icpt", "chi2", "var")}
    hits_o = np.full((n, 2, 18), -1, dtype=np.int64)
    for i in range(n):
        sl = slice(clu_ptr[i], clu_ptr[i + 1])
        for v in range(2):
            idx = np.flatnonzero(clu_view[sl] == v) + clu_ptr[i]
            if idx.size == 0:
                continue
            idx = idx[np.argsort(clu_plane[idx], kind="stable")]
            by_plane = [idx[clu_plane[idx] == p] for p in range(18)]
            hit_planes = [p for p in range(18) if by_plane[p].size]
            best: list[int] = []
            best_chi2 = np.inf
            for p1 in hit_planes[:seed_planes]:
                below = [p for p in hit_planes if p > p1][:2]
                for a in by_plane[p1]:
                    for p2 in below:
                        for b in by_plane[p2]:
                            if abs((clu_pos[b] - clu_pos[a]) / (clu_z[b] - clu_z[a])) > P.TRACK_MAX_SLOPE:
                                continue
                            hits = [a, b]
                            misses = 0
                            for p in range(p2 + 1, 18):
                                (u1, u2), (z1, z2) = clu_pos[hits[-2:]], clu_z[hits[-2:]]
                                ds = (u2 - u1) / (z2 - z1)
                                dz = inst.TKR_LAYER_Z_MM[p, v] - z2
                                pred = u2 + ds * dz
                                x0 = x0_plane[p] * np.sqrt(1.0 + ds * ds)
                                th = (
                                    P.HIGHLAND_MEV
                                    / max(0.5 * e_est[i], 1.0)
                                    * np.sqrt(x0)
                                    * (1.0 + 0.038 * np.log(x0))
                                )
                                ms = min(3.0 * th * abs(dz) * (1.0 + ds * ds), P.TRACK_MAX_WINDOW_MM)
                                window = max(window_mm, ms)
                                cand = by_plane[p]
                                if cand.size:
                                    d = np.abs(clu_pos[cand] - pred)
                                    j = int(np.argmin(d))
                                    if d[j] < window:
                                        hits.append(int(cand[j]))
                                        misses = 0
                                        continue
                                misses += 1
                                if misses > max_gap:
                                    break
                            if len(hits) < len(best):
                                continue
                            fit = _fit(clu_pos[hits], clu_z[hits])
                            if len(hits) > len(best) or fit[2] < best_chi2:
                                best, best_chi2 = hits, fit[2]
                                for k, val in zip(("slope", "icpt", "chi2", "var"), fit, strict=True):
                                    out[k][i, v] = val
            if best:
                nhits[i, v] = len(best)
                first[i, v] = clu_plane[best[0]]
                last[i, v] = clu_plane[best[-1]]
                hits_o[i, v, : len(best)] = best
    return nhits, first, last, out["slope"], out["icpt"], out["chi2"], out["var"], hits_o


def refit_tracks(
    hits: np.ndarray,
    nhits: np.ndarray,
    clu_plane: np.ndarray,
    clu_pos: np.ndarray,
    clu_z: np.ndarray,
    slope: np.ndarray,
    icpt: np.ndarray,
    chi2: np.ndarray,
    var_slope: np.ndarray,
    energy: np.ndarray,
    cos_theta: np.ndarray,
    cfg: np.ndarray | None = None,
) -> tuple[np.ndarray, ...]:
    """Twin of :func:`._kernels.refit_tracks` (explicit covariance matrix, ``np.linalg.solve``)."""
    s_o, i_o, c_o, v_o = slope.copy(), icpt.copy(), chi2.copy(), var_slope.copy()
    s2 = P.SIGMA_HIT_MM**2
    per_plane_x0 = inst.FOIL_X0 + inst.TKR_TRAY_X0
    cum_x0 = np.concatenate([[0.0], np.cumsum(per_plane_x0)])
    for i in np.flatnonzero(energy > 0):
        e_lep = max(0.5 * energy[i], 1.0)
        cz = max(cos_theta[i], P.MIN_COS_THETA) if np.isfinite(cos_theta[i]) else 1.0
        for v in range(2):
            m = int(nhits[i, v])
            if m < 3:
                continue
            c = hits[i, v, :m]
            z, u, pl = clu_z[c], clu_pos[c], clu_plane[c].astype(np.int64)
            x0 = (cum_x0[pl[1:] + 1] - cum_x0[pl[:-1] + 1]) / cz
            th = P.HIGHLAND_MEV / e_lep * np.sqrt(x0) * (1.0 + 0.038 * np.log(x0))
            kick = np.append(th**2 * (1.0 + slope[i, v] ** 2) ** 2, 0.0)
            zk = np.append(inst.FOIL_Z_MM[pl[1:]], 0.0)  # kick q sits at the foil above hit q+1
            lever = z[:, None] - zk[None, :]  # [j, q] = z_j - zk_q, used for q < j
            mask = np.tril(np.ones((m, m)), -1)
            g = lever * mask * np.sqrt(kick)[None, :]
            cov = s2 * np.eye(m) + g @ g.T
            a = np.stack([np.ones(m), z - z[0]], axis=1)
            ci_a = np.linalg.solve(cov, a)
            ci_u = np.linalg.solve(cov, u)
            mat = a.T @ ci_a
            beta = np.linalg.solve(mat, a.T @ ci_u)
            s_o[i, v] = beta[1]
            i_o[i, v] = beta[0] - beta[1] * z[0]
            res = u - a @ beta
            c_o[i, v] = res @ np.linalg.solve(cov, res)
            v_o[i, v] = np.linalg.inv(mat)[1, 1]
    return s_o, i_o, c_o, v_o


def event_direction(
    nhits: np.ndarray,
    first: np.ndarray,
    slope: np.ndarray,
    icpt: np.ndarray,
    min_hits: int,
    cfg: np.ndarray | None = None,
) -> tuple[np.ndarray, ...]:
    """Twin of :func:`._kernels.event_direction`."""
    has = np.all(nhits >= min_hits, axis=1)
    fp = np.where(has, first.min(axis=1), -1).astype(np.int16)
    d = np.stack([slope[:, 0], slope[:, 1], np.ones(len(has))], axis=1)
    d = d / np.linalg.norm(d, axis=1, keepdims=True)
    d[~has] = np.nan
    theta = np.degrees(np.arccos(d[:, 2]))
    phi = np.degrees(np.arctan2(d[:, 1], d[:, 0])) % 360.0
    zv = np.where(has, inst.TKR_LAYER_Z_MM[np.maximum(fp, 0), 0], np.nan)
    vertex = np.stack([icpt[:, 0] + slope[:, 0] * zv, icpt[:, 1] + slope[:, 1] * zv, zv], axis=1)
    vertex[~has] = np.nan
    return has, fp, d, theta, phi, vertex


def calorimeter_energy(
    cal_ptr: np.ndarray,
    log_energy: np.ndarray,
    first_plane: np.ndarray,
    cos_theta: np.ndarray,
    n_iter: int,
    cfg: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Twin of :func:`._kernels.calorimeter_energy`."""
    n = cal_ptr.shape[0] - 1
    event = np.repeat(np.arange(n), np.diff(cal_ptr))
    raw = np.bincount(event, weights=log_energy, minlength=n).astype(np.float64)
    has = first_plane >= 0
    p = np.where(has, first_plane, 0)
    c = np.maximum(np.where(has, cos_theta, 1.0), P.MIN_COS_THETA)
    t0 = inst.TKR_X0_BELOW[p] / c
    t1 = t0 + inst.CAL_X0 / c
    e = raw.copy()
    f = np.ones(n)
    pos = raw > 0
    for _ in range(n_iter):
        f[pos] = inst.shower_fraction(e[pos], t0[pos], t1[pos])
        e[pos] = raw[pos] / f[pos]
    return raw, e, np.where(pos, f, 0.0)


def tracker_energy(
    hits: np.ndarray,
    nhits: np.ndarray,
    clu_plane: np.ndarray,
    clu_pos: np.ndarray,
    clu_z: np.ndarray,
    slope: np.ndarray,
    cos_theta: np.ndarray,
    cfg: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Twin of :func:`._kernels.tracker_energy` (kinks of each track as arrays)."""
    n = nhits.shape[0]
    energy = np.zeros(n, dtype=np.float64)
    kinks = np.zeros(n, dtype=np.int16)
    cum_x0 = np.concatenate([[0.0], np.cumsum(inst.FOIL_X0 + inst.TKR_TRAY_X0)])
    s2 = P.SIGMA_HIT_MM**2
    for i in np.flatnonzero(np.isfinite(cos_theta)):
        cz = max(cos_theta[i], P.MIN_COS_THETA)
        geo_tot = 1.0 + slope[i, 0] ** 2 + slope[i, 1] ** 2
        num = den = 0.0
        nk = 0
        for v in range(2):
            m = int(nhits[i, v])
            if m < 3:
                continue
            c = hits[i, v, :m]
            z, u, pl = clu_z[c], clu_pos[c], clu_plane[c].astype(np.int64)
            dz = np.diff(z)
            sl = np.diff(u) / dz
            d = np.diff(sl)
            meas = s2 * (1.0 / dz[:-1] ** 2 + (1.0 / dz[:-1] + 1.0 / dz[1:]) ** 2 + 1.0 / dz[1:] ** 2)
            x0 = (cum_x0[pl[2:] + 1] - cum_x0[pl[1:-1] + 1]) / cz
            th = P.HIGHLAND_MEV * np.sqrt(x0) * (1.0 + 0.038 * np.log(x0))
            num += float(np.sum(d**2 - meas))
            den += float(np.sum(th**2)) * (1.0 + slope[i, v] ** 2) * geo_tot
            nk += m - 2
        kinks[i] = nk
        if nk < P.TKR_ENERGY_MIN_KINKS:
            continue
        e = P.TKR_ENERGY_SCALE * np.sqrt(den / num) if num > 0.0 else np.inf
        energy[i] = min(e, P.TKR_ENERGY_MAX_MEV)
    return energy, kinks


def quaternion_matrices(quat: np.ndarray) -> np.ndarray:
    """Return (n, 3, 3) rotation matrices (instrument -> J2000) of scalar-last quaternions."""
    x, y, z, w = (quat[:, k] for k in range(4))
    s = 2.0 / np.sum(quat**2, axis=1)
    return np.stack(
        [
            np.stack([1 - s * (y * y + z * z), s * (x * y - z * w), s * (x * z + y * w)], axis=-1),
            np.stack([s * (x * y + z * w), 1 - s * (x * x + z * z), s * (y * z - x * w)], axis=-1),
            np.stack([s * (x * z - y * w), s * (y * z + x * w), 1 - s * (x * x + y * y)], axis=-1),
        ],
        axis=1,
    )


def to_sky(
    direction: np.ndarray, quat: np.ndarray, sc_pos: np.ndarray, gal: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Twin of :func:`._kernels.to_sky`."""
    e = np.einsum("nij,nj->ni", quaternion_matrices(quat), direction)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    ra = np.degrees(np.arctan2(e[:, 1], e[:, 0])) % 360.0
    dec = np.degrees(np.arcsin(np.clip(e[:, 2], -1, 1)))
    g = e @ gal.T
    gl = np.degrees(np.arctan2(g[:, 1], g[:, 0])) % 360.0
    gb = np.degrees(np.arcsin(np.clip(g[:, 2], -1, 1)))
    zen_v = sc_pos / np.linalg.norm(sc_pos, axis=1, keepdims=True)
    zen = np.degrees(np.arccos(np.clip(np.sum(e * zen_v, axis=1), -1, 1)))
    east = np.cross(np.array([0.0, 0.0, 1.0]), zen_v)
    en = np.linalg.norm(east, axis=1, keepdims=True)
    east = np.where(en > 0, east / np.where(en > 0, en, 1.0), np.array([0.0, 1.0, 0.0]))
    north = np.cross(zen_v, east)
    az = np.degrees(np.arctan2(np.sum(e * east, axis=1), np.sum(e * north, axis=1))) % 360.0
    return ra, dec, gl, gb, zen, az


def classify(
    has_track: np.ndarray,
    nhits: np.ndarray,
    chi2: np.ndarray,
    first_plane: np.ndarray,
    vertex: np.ndarray,
    direction: np.ndarray,
    energy: np.ndarray,
    raw_energy: np.ndarray,
    fraction: np.ndarray,
    var_slope: np.ndarray,
    acd_ptr: np.ndarray,
    acd_id: np.ndarray,
    acd_energy: np.ndarray,
    cfg: np.ndarray | None = None,
) -> tuple[np.ndarray, ...]:
    """Twin of :func:`._kernels.classify`."""
    n = has_track.shape[0]
    acd_event = np.repeat(np.arange(n), np.diff(acd_ptr))
    acd_tot = np.bincount(acd_event, weights=acd_energy, minlength=n).astype(np.float64)
    tile = np.full(n, -1, dtype=np.int16)
    if has_track.any():
        tile[has_track] = inst.acd_ray_intersection(vertex[has_track], direction[has_track])[0]
    # energy in the crossed tile: match (event, tile) keys
    key_hits = acd_event * 1000 + acd_id
    key_evt = np.arange(n) * 1000 + tile
    order = np.argsort(key_hits, kind="stable")
    pos = np.searchsorted(key_hits[order], key_evt)
    pos = np.minimum(pos, max(len(order) - 1, 0))
    tile_e = np.zeros(n)
    if len(order):
        found = (key_hits[order][pos] == key_evt) & (tile >= 0)
        tile_e[found] = acd_energy[order][pos][found]
    cz = direction[:, 2]
    psf = np.where(has_track, np.degrees(np.sqrt(var_slope[:, 0] + var_slope[:, 1]) * cz * cz), np.nan)
    q_psf = np.sum(psf[:, None] > np.array(P.PSF_EDGES_DEG), axis=1)
    q_edisp = np.sum(fraction[:, None] < np.array(P.EDISP_EDGES), axis=1)
    ev_type = (
        np.where(first_plane < inst.FIRST_BACK_PLANE, P.FRONT, P.BACK)
        | np.array(P.PSF_BITS)[3 - q_psf]
        | np.array(P.EDISP_BITS)[3 - q_edisp]
    )
    ev_type = np.where(has_track, ev_type, 0).astype(np.uint32)
    with np.errstate(invalid="ignore", divide="ignore"):
        rms = np.max(np.sqrt(chi2 / nhits) * P.SIGMA_HIT_MM, axis=1)
    base = has_track & (raw_energy >= P.MIN_CAL_ENERGY_MEV) & (tile_e < P.ACD_TRANSIENT_MAX_MEV)
    source = base & (tile_e < P.ACD_VETO_MEV) & (rms < P.SOURCE_MAX_RMS_MM)
    clean = source & (rms < P.CLEAN_MAX_RMS_MM) & (nhits.min(axis=1) >= P.CLEAN_MIN_HITS)
    ultra = clean & (energy >= P.ULTRACLEAN_MIN_MEV)
    uveto = ultra & (acd_tot < P.ULTRACLEANVETO_MAX_ACD_MEV)
    ev_class = (
        np.where(base, P.TRANSIENT_BITS, 0)
        | np.where(source, P.SOURCE | P.SOURCEVETO, 0)
        | np.where(clean, P.CLEAN, 0)
        | np.where(ultra, P.ULTRACLEAN, 0)
        | np.where(uveto, P.ULTRACLEANVETO, 0)
    ).astype(np.uint32)
    tile = np.where(has_track, tile, -1).astype(np.int16)
    return ev_class, ev_type, tile, np.where(has_track, tile_e, 0.0), acd_tot, psf
