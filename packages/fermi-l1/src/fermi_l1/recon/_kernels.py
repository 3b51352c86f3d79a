"""Numba kernels of the reconstruction (plain arrays in and out, explicit dtypes).

Each kernel has a plain-numpy twin of the same name in :mod:`._reference`; the tests check that
they agree. Geometry (:mod:`fermi_l1.instrument`) and cuts (:mod:`.params`) reach the kernels
only through the ``cfg`` vector of :func:`config`.
"""

from __future__ import annotations

import math

import numpy as np

from fermi_core.jit import njit
from fermi_l1 import instrument as inst

from . import params as P

# Every constant the kernels use travels in one float64 argument ``cfg`` built by
# :func:`config`: numba's on-disk cache only watches this file, so constants read as globals
# from ``instrument`` or ``params`` could silently stay stale after an edit there.
K_TOWER_PITCH = 0
K_WAFER_PITCH = 1
K_STRIP_PITCH = 2
K_SPW = 3
K_TRAY_X0 = 4
K_CAL_X0 = 5
K_CSI_EC = 6
K_SHOWER_B = 7
K_ACD_HALF = 8
K_ACD_TOP = 9
K_ACD_TILE = 10
K_FIRST_BACK = 11
K_SIGMA_HIT = 12
K_HIGHLAND = 13
K_MIN_COS = 14
K_MAX_SLOPE = 15
K_MAX_WINDOW = 16
K_MIN_CAL_E = 17
K_ACD_VETO = 18
K_ACD_TRANSIENT = 19
K_SOURCE_RMS = 20
K_CLEAN_RMS = 21
K_CLEAN_HITS = 22
K_UCLEAN_E = 23
K_UCVETO_ACD = 24
K_PSF_EDGES = 25  # 3 values
K_EDISP_EDGES = 28  # 3 values
K_BIT_TRANSIENT = 31
K_BIT_SOURCE = 32
K_BIT_SOURCEVETO = 33
K_BIT_CLEAN = 34
K_BIT_UCLEAN = 35
K_BIT_UCVETO = 36
K_BIT_FRONT = 37
K_BIT_BACK = 38
K_BIT_PSF = 39  # 4 values, PSF0..PSF3
K_BIT_EDISP = 43  # 4 values, EDISP0..EDISP3
K_LAYER_Z = 47  # 36 values, [2 * plane + view]
K_X0_BELOW = 83  # 18 values
K_FOIL_X0 = 101  # 18 values
K_FOIL_Z = 119  # 18 values
K_SIDE_Z = 137  # 8 values, [2 * row + (0 low, 1 high)]
K_TKR_E_SCALE = 145
K_TKR_E_MIN_KINKS = 146
K_TKR_E_MAX = 147
K_SIZE = 148


def config() -> np.ndarray:
    """Return the float64 ``cfg`` vector of the kernels from ``instrument`` and ``params``."""
    c = np.zeros(K_SIZE, dtype=np.float64)
    c[K_TOWER_PITCH] = inst.TOWER_PITCH_MM
    c[K_WAFER_PITCH] = inst.WAFER_PITCH_MM
    c[K_STRIP_PITCH] = inst.STRIP_PITCH_MM
    c[K_SPW] = inst.STRIPS_PER_WAFER
    c[K_TRAY_X0] = inst.TKR_TRAY_X0
    c[K_CAL_X0] = inst.CAL_X0
    c[K_CSI_EC] = inst.CSI_CRITICAL_ENERGY_MEV
    c[K_SHOWER_B] = inst.SHOWER_B
    c[K_ACD_HALF] = inst.ACD_HALF_WIDTH_MM
    c[K_ACD_TOP] = inst.ACD_TOP_Z_MM
    c[K_ACD_TILE] = inst.ACD_TILE_PITCH_MM
    c[K_FIRST_BACK] = inst.FIRST_BACK_PLANE
    c[K_SIGMA_HIT] = P.SIGMA_HIT_MM
    c[K_HIGHLAND] = P.HIGHLAND_MEV
    c[K_MIN_COS] = P.MIN_COS_THETA
    c[K_MAX_SLOPE] = P.TRACK_MAX_SLOPE
    c[K_MAX_WINDOW] = P.TRACK_MAX_WINDOW_MM
    c[K_MIN_CAL_E] = P.MIN_CAL_ENERGY_MEV
    c[K_ACD_VETO] = P.ACD_VETO_MEV
    c[K_ACD_TRANSIENT] = P.ACD_TRANSIENT_MAX_MEV
    c[K_SOURCE_RMS] = P.SOURCE_MAX_RMS_MM
    c[K_CLEAN_RMS] = P.CLEAN_MAX_RMS_MM
    c[K_CLEAN_HITS] = P.CLEAN_MIN_HITS
    c[K_UCLEAN_E] = P.ULTRACLEAN_MIN_MEV
    c[K_UCVETO_ACD] = P.ULTRACLEANVETO_MAX_ACD_MEV
    c[K_PSF_EDGES : K_PSF_EDGES + 3] = P.PSF_EDGES_DEG
    c[K_EDISP_EDGES : K_EDISP_EDGES + 3] = P.EDISP_EDGES
    c[K_BIT_TRANSIENT] = P.TRANSIENT_BITS
    c[K_BIT_SOURCE] = P.SOURCE
    c[K_BIT_SOURCEVETO] = P.SOURCEVETO
    c[K_BIT_CLEAN] = P.CLEAN
    c[K_BIT_UCLEAN] = P.ULTRACLEAN
    c[K_BIT_UCVETO] = P.ULTRACLEANVETO
    c[K_BIT_FRONT] = P.FRONT
    c[K_BIT_BACK] = P.BACK
    c[K_BIT_PSF : K_BIT_PSF + 4] = P.PSF_BITS
    c[K_BIT_EDISP : K_BIT_EDISP + 4] = P.EDISP_BITS
    c[K_LAYER_Z : K_LAYER_Z + 36] = inst.TKR_LAYER_Z_MM.ravel()
    c[K_X0_BELOW : K_X0_BELOW + 18] = inst.TKR_X0_BELOW
    c[K_FOIL_X0 : K_FOIL_X0 + 18] = inst.FOIL_X0
    c[K_FOIL_Z : K_FOIL_Z + 18] = inst.FOIL_Z_MM
    c[K_SIDE_Z : K_SIDE_Z + 8] = inst.ACD_SIDE_ROW_Z_MM.ravel()
    c[K_TKR_E_SCALE] = P.TKR_ENERGY_SCALE
    c[K_TKR_E_MIN_KINKS] = P.TKR_ENERGY_MIN_KINKS
    c[K_TKR_E_MAX] = P.TKR_ENERGY_MAX_MEV
    return c


_DEG = 180.0 / math.pi


# ---------------------------------------------------------------------------------------------
# clustering
# ---------------------------------------------------------------------------------------------
@njit(nogil=True)
def _strip_pos(tower: int, view: int, strip: int, cfg: np.ndarray) -> float:
    pitch = cfg[K_TOWER_PITCH]
    spw = np.int64(cfg[K_SPW])
    c = ((tower % 4) - 1.5) * pitch if view == 0 else ((tower // 4) - 1.5) * pitch
    w = strip // spw
    return c + (w - 1.5) * cfg[K_WAFER_PITCH] + (strip - w * spw - (spw - 1) / 2.0) * cfg[K_STRIP_PITCH]


@njit(nogil=True)
def cluster_hits(
    tkr_ptr: np.ndarray,
    tower: np.ndarray,
    plane: np.ndarray,
    view: np.ndarray,
    strip: np.ndarray,
    cfg: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Group adjacent strips (same event, tower, plane, view and wafer) into clusters.

    Hits must be sorted by (event, tower, plane, view, strip) as digi delivers them.

    Returns
    -------
    clu_ptr int64 (n+1), clu_plane int16, clu_view int16, clu_tower int16, clu_nstrips int16,
    clu_pos float64 (mm, the measured coordinate: x for view 0, y for view 1, centre of the
    cluster), clu_z float64 (mm, z of the silicon layer).
    """
    n = tkr_ptr.shape[0] - 1
    m = tower.shape[0]
    spw = np.int64(cfg[K_SPW])
    new = np.zeros(m, dtype=np.bool_)
    per_event = np.zeros(n, dtype=np.int64)
    for i in range(n):
        for k in range(tkr_ptr[i], tkr_ptr[i + 1]):
            if (
                k == tkr_ptr[i]
                or tower[k] != tower[k - 1]
                or plane[k] != plane[k - 1]
                or view[k] != view[k - 1]
                or strip[k] != strip[k - 1] + 1
                or strip[k] // spw != strip[k - 1] // spw
            ):
                new[k] = True
                per_event[i] += 1
    clu_ptr = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        clu_ptr[i + 1] = clu_ptr[i] + per_event[i]
    nc = clu_ptr[n]
    clu_plane = np.empty(nc, dtype=np.int16)
    clu_view = np.empty(nc, dtype=np.int16)
    clu_tower = np.empty(nc, dtype=np.int16)
    clu_nstrips = np.zeros(nc, dtype=np.int16)
    clu_pos = np.empty(nc, dtype=np.float64)
    clu_z = np.empty(nc, dtype=np.float64)
    c = -1
    first = 0
    for k in range(m):
        if new[k]:
            c += 1
            first = strip[k]
            clu_plane[c] = plane[k]
            clu_view[c] = view[k]
            clu_tower[c] = tower[k]
            clu_z[c] = cfg[K_LAYER_Z + 2 * plane[k] + view[k]]
        clu_nstrips[c] += 1
        clu_pos[c] = 0.5 * (
            _strip_pos(tower[k], view[k], first, cfg) + _strip_pos(tower[k], view[k], strip[k], cfg)
        )
    return clu_ptr, clu_plane, clu_view, clu_tower, clu_nstrips, clu_pos, clu_z


# ---------------------------------------------------------------------------------------------
# track finding and fitting
# ---------------------------------------------------------------------------------------------
@njit(nogil=True)
def _fit(
    hits: np.ndarray, nh: int, pos: np.ndarray, z: np.ndarray, sigma: float
) -> tuple[float, float, float, float]:
    zb = 0.0
    ub = 0.0
    for j in range(nh):
        zb += z[hits[j]]
        ub += pos[hits[j]]
    zb /= nh
    ub /= nh
    szz = 0.0
    szu = 0.0
    for j in range(nh):
        dz = z[hits[j]] - zb
        szz += dz * dz
        szu += dz * (pos[hits[j]] - ub)
    slope = szu / szz
    icpt = ub - slope * zb
    chi2 = 0.0
    for j in range(nh):
        r = pos[hits[j]] - icpt - slope * z[hits[j]]
        chi2 += r * r
    s2 = sigma * sigma
    return slope, icpt, chi2 / s2, s2 / szz


@njit(nogil=True)
def _ms_window(e_est: float, plane: int, slope: float, dz: float, cfg: np.ndarray) -> float:
    x0 = (cfg[K_FOIL_X0 + plane] + cfg[K_TRAY_X0]) * math.sqrt(1.0 + slope * slope)
    th = cfg[K_HIGHLAND] / max(0.5 * e_est, 1.0) * math.sqrt(x0) * (1.0 + 0.038 * math.log(x0))
    return min(3.0 * th * abs(dz) * (1.0 + slope * slope), cfg[K_MAX_WINDOW])


@njit(nogil=True)
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
    cfg: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Find the best straight track of each event in each view (0 x-z, 1 y-z).

    Seeds are pairs of clusters in one of the first ``seed_planes`` hit planes and one of the
    next two hit planes below; each seed is followed down plane by plane, predicting from the
    last two hits and attaching the nearest cluster within a window, until ``max_gap`` planes in
    a row have none. The window is ``window_mm`` or three times the multiple-scattering deviation
    expected for a lepton of ``e_est / 2`` (MeV, per event) through the plane's foil, if larger,
    capped at ``TRACK_MAX_WINDOW_MM``. The track with most hits wins, then the lowest chi2. Its hits are
    fitted by least squares, ``u = intercept + slope * z``.

    Returns
    -------
    Arrays of shape (n, 2) [event, view]: nhits int16 (0 = no track), first_plane int16
    (-1 = none), last_plane int16, slope float64 (du/dz), intercept float64 (mm at z = 0),
    chi2 float64 (with the single-hit resolution), var_slope float64; and hits int64
    (n, 2, 18): the track's cluster indices from the top, -1 padded.
    """
    n = clu_ptr.shape[0] - 1
    nhits = np.zeros((n, 2), dtype=np.int16)
    first = np.full((n, 2), -1, dtype=np.int16)
    last = np.full((n, 2), -1, dtype=np.int16)
    slope_o = np.full((n, 2), np.nan)
    icpt_o = np.full((n, 2), np.nan)
    chi2_o = np.full((n, 2), np.nan)
    var_o = np.full((n, 2), np.nan)
    hits_o = np.full((n, 2, 18), -1, dtype=np.int64)
    cnt = np.zeros(19, dtype=np.int64)
    start = np.zeros(19, dtype=np.int64)
    cur = np.empty(18, dtype=np.int64)
    best = np.empty(18, dtype=np.int64)
    order = np.empty(0, dtype=np.int64)
    for i in range(n):
        c0 = clu_ptr[i]
        c1 = clu_ptr[i + 1]
        if order.shape[0] < c1 - c0:
            order = np.empty(c1 - c0, dtype=np.int64)
        for v in range(2):
            cnt[:] = 0
            for k in range(c0, c1):
                if clu_view[k] == v:
                    cnt[clu_plane[k]] += 1
            start[0] = 0
            for p in range(18):
                start[p + 1] = start[p] + cnt[p]
            cnt[:] = 0
            for k in range(c0, c1):
                if clu_view[k] == v:
                    p = clu_plane[k]
                    order[start[p] + cnt[p]] = k
                    cnt[p] += 1
            best_n = 0
            best_chi2 = np.inf
            seeds = 0
            for p1 in range(18):
                if cnt[p1] == 0:
                    continue
                seeds += 1
                if seeds > seed_planes:
                    break
                for ia in range(start[p1], start[p1 + 1]):
                    a = order[ia]
                    n_p2 = 0
                    for p2 in range(p1 + 1, 18):
                        if cnt[p2] == 0:
                            continue
                        n_p2 += 1
                        if n_p2 > 2:
                            break
                        for ib in range(start[p2], start[p2 + 1]):
                            b = order[ib]
                            if abs((clu_pos[b] - clu_pos[a]) / (clu_z[b] - clu_z[a])) > cfg[K_MAX_SLOPE]:
                                continue
                            cur[0] = a
                            cur[1] = b
                            nh = 2
                            u1 = clu_pos[a]
                            z1 = clu_z[a]
                            u2 = clu_pos[b]
                            z2 = clu_z[b]
                            misses = 0
                            for p in range(p2 + 1, 18):
                                zp = cfg[K_LAYER_Z + 2 * p + v]
                                ds = (u2 - u1) / (z2 - z1)
                                pred = u2 + ds * (zp - z2)
                                dbest = max(window_mm, _ms_window(e_est[i], p, ds, zp - z2, cfg))
                                found = -1
                                for ic in range(start[p], start[p + 1]):
                                    c = order[ic]
                                    d = abs(clu_pos[c] - pred)
                                    if d < dbest:
                                        dbest = d
                                        found = c
                                if found >= 0:
                                    cur[nh] = found
                                    nh += 1
                                    u1 = u2
                                    z1 = z2
                                    u2 = clu_pos[found]
                                    z2 = clu_z[found]
                                    misses = 0
                                else:
                                    misses += 1
                                    if misses > max_gap:
                                        break
                            if nh < best_n:
                                continue
                            s, ic_, chi2, var = _fit(cur, nh, clu_pos, clu_z, cfg[K_SIGMA_HIT])
                            if nh > best_n or chi2 < best_chi2:
                                best_n = nh
                                best_chi2 = chi2
                                for j in range(nh):  # a loop: an array-to-slice copy costs seconds to compile
                                    best[j] = cur[j]
                                slope_o[i, v] = s
                                icpt_o[i, v] = ic_
                                chi2_o[i, v] = chi2
                                var_o[i, v] = var
            if best_n > 0:
                nhits[i, v] = best_n
                first[i, v] = clu_plane[best[0]]
                last[i, v] = clu_plane[best[best_n - 1]]
                for j in range(best_n):
                    hits_o[i, v, j] = best[j]
    return nhits, first, last, slope_o, icpt_o, chi2_o, var_o, hits_o


@njit(nogil=True)
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
    cfg: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Refit tracks by generalised least squares with multiple scattering (a Kalman equivalent).

    The hit covariance is ``sigma^2 I`` plus, for every plane crossed between two hits, a slope
    kick of variance ``theta0^2 (1 + s^2)^2`` (Highland formula for one lepton of half the
    event energy through the foils and trays crossed, path length ``1 / cos_theta``) at the
    converter foil above the next hit, which correlates all hits below it. Straight line ``u = a + s z`` as :func:`find_tracks`; the
    direction is thus weighted towards the first hits at low energy. Tracks with fewer than three
    hits, or events without energy, keep the input values.

    Returns slope, intercept, chi2 (generalised) and var_slope, float64 (n, 2).
    """
    n = nhits.shape[0]
    s_o = slope.copy()
    i_o = icpt.copy()
    c_o = chi2.copy()
    v_o = var_slope.copy()
    s2 = cfg[K_SIGMA_HIT] * cfg[K_SIGMA_HIT]
    cov = np.empty((18, 18))
    rhs = np.empty((18, 3))
    zz = np.empty(18)
    uu = np.empty(18)
    kick = np.empty(18)
    zk = np.empty(18)
    for i in range(n):
        if not energy[i] > 0.0:
            continue
        e_lep = max(0.5 * energy[i], 1.0)
        cz = max(cos_theta[i], cfg[K_MIN_COS]) if cos_theta[i] == cos_theta[i] else 1.0
        for v in range(2):
            m = nhits[i, v]
            if m < 3:
                continue
            sl = slope[i, v]
            for j in range(m):
                c = hits[i, v, j]
                zz[j] = clu_z[c]
                uu[j] = clu_pos[c]
                kick[j] = 0.0
                zk[j] = 0.0
                if j + 1 < m:
                    zk[j] = cfg[K_FOIL_Z + clu_plane[hits[i, v, j + 1]]]
                    x0 = 0.0
                    for q in range(clu_plane[c] + 1, clu_plane[hits[i, v, j + 1]] + 1):
                        x0 += cfg[K_FOIL_X0 + q] + cfg[K_TRAY_X0]
                    x0 /= cz
                    th = cfg[K_HIGHLAND] / e_lep * math.sqrt(x0) * (1.0 + 0.038 * math.log(x0))
                    kick[j] = th * th * (1.0 + sl * sl) ** 2
            for j in range(m):
                for k in range(j, m):
                    acc = s2 if j == k else 0.0
                    for q in range(j):
                        acc += kick[q] * (zk[q] - zz[j]) * (zk[q] - zz[k])
                    cov[j, k] = acc
                    cov[k, j] = acc
            # Cholesky in place (lower triangle)
            for j in range(m):
                d = cov[j, j]
                for q in range(j):
                    d -= cov[j, q] * cov[j, q]
                d = math.sqrt(d)
                cov[j, j] = d
                for k in range(j + 1, m):
                    acc = cov[k, j]
                    for q in range(j):
                        acc -= cov[k, q] * cov[j, q]
                    cov[k, j] = acc / d
            z0 = zz[0]
            for j in range(m):
                rhs[j, 0] = 1.0
                rhs[j, 1] = zz[j] - z0
                rhs[j, 2] = uu[j]
            # whiten: solve L w = rhs
            for r in range(3):
                for j in range(m):
                    acc = rhs[j, r]
                    for q in range(j):
                        acc -= cov[j, q] * rhs[q, r]
                    rhs[j, r] = acc / cov[j, j]
            a00 = 0.0
            a01 = 0.0
            a11 = 0.0
            b0 = 0.0
            b1 = 0.0
            for j in range(m):
                a00 += rhs[j, 0] * rhs[j, 0]
                a01 += rhs[j, 0] * rhs[j, 1]
                a11 += rhs[j, 1] * rhs[j, 1]
                b0 += rhs[j, 0] * rhs[j, 2]
                b1 += rhs[j, 1] * rhs[j, 2]
            det = a00 * a11 - a01 * a01
            beta0 = (a11 * b0 - a01 * b1) / det
            beta1 = (a00 * b1 - a01 * b0) / det
            s_o[i, v] = beta1
            i_o[i, v] = beta0 - beta1 * z0
            chi = 0.0
            for j in range(m):
                r = rhs[j, 2] - beta0 * rhs[j, 0] - beta1 * rhs[j, 1]
                chi += r * r
            c_o[i, v] = chi
            v_o[i, v] = a00 / det
    return s_o, i_o, c_o, v_o


# ---------------------------------------------------------------------------------------------
# direction and vertex
# ---------------------------------------------------------------------------------------------
@njit(nogil=True)
def event_direction(
    nhits: np.ndarray, first: np.ndarray, slope: np.ndarray, icpt: np.ndarray, min_hits: int, cfg: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Combine the two views into the photon direction and the conversion vertex.

    Returns has_track bool (n), first_plane int16 (n, -1 without track), direction float64
    (n, 3) unit vector towards the source in the instrument frame, theta, phi float64 (deg;
    phi in [0, 360) from +X towards +Y), vertex float64 (n, 3) mm at the top layer of the first
    plane. Events without a track in both views get NaN.
    """
    n = nhits.shape[0]
    has = np.zeros(n, dtype=np.bool_)
    fp = np.full(n, -1, dtype=np.int16)
    direction = np.full((n, 3), np.nan)
    theta = np.full(n, np.nan)
    phi = np.full(n, np.nan)
    vertex = np.full((n, 3), np.nan)
    for i in range(n):
        if nhits[i, 0] < min_hits or nhits[i, 1] < min_hits:
            continue
        has[i] = True
        p = min(first[i, 0], first[i, 1])
        fp[i] = p
        sx = slope[i, 0]
        sy = slope[i, 1]
        norm = math.sqrt(sx * sx + sy * sy + 1.0)
        direction[i, 0] = sx / norm
        direction[i, 1] = sy / norm
        direction[i, 2] = 1.0 / norm
        theta[i] = math.acos(direction[i, 2]) * _DEG
        ph = math.atan2(direction[i, 1], direction[i, 0]) * _DEG
        phi[i] = ph + 360.0 if ph < 0.0 else ph
        zv = cfg[K_LAYER_Z + 2 * p]
        vertex[i, 0] = icpt[i, 0] + sx * zv
        vertex[i, 1] = icpt[i, 1] + sy * zv
        vertex[i, 2] = zv
    return has, fp, direction, theta, phi, vertex


# ---------------------------------------------------------------------------------------------
# energy
# ---------------------------------------------------------------------------------------------
@njit(nogil=True)
def _gamma_p(a: float, x: float) -> float:
    if x <= 0.0:
        return 0.0
    lg = math.lgamma(a)
    if x < a + 1.0:
        term = 1.0 / a
        total = term
        for k in range(1, 300):
            term *= x / (a + k)
            total += term
            if term < total * 1e-16:
                break
        return min(1.0, total * math.exp(-x + a * math.log(x) - lg))
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for k in range(1, 300):
        an = -k * (k - a)
        b += 2.0
        d = an * d + b
        if abs(d) < tiny:
            d = tiny
        c = b + an / c
        if abs(c) < tiny:
            c = tiny
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-16:
            break
    return max(0.0, 1.0 - math.exp(-x + a * math.log(x) - lg) * h)


@njit(nogil=True)
def _fraction(energy: float, t0: float, t1: float, cfg: np.ndarray) -> float:
    e = max(energy, 1e-3)
    b = cfg[K_SHOWER_B]
    a = max(b * (math.log(e / cfg[K_CSI_EC]) + 0.5) + 1.0, 1.05)
    return _gamma_p(a, b * t1) - _gamma_p(a, b * t0)


@njit(nogil=True)
def calorimeter_energy(
    cal_ptr: np.ndarray,
    log_energy: np.ndarray,
    first_plane: np.ndarray,
    cos_theta: np.ndarray,
    n_iter: int,
    cfg: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (raw sum MeV, leakage-corrected energy MeV, contained fraction) per event.

    The shower starts at the conversion point; the calorimeter sees the part of the mean
    longitudinal profile between ``t0 = TKR_X0_BELOW[first_plane] / cos`` and
    ``t0 + CAL_X0 / cos`` (cos floored at ``MIN_COS_THETA``; events without a track use plane 0
    at normal incidence). ``E = raw / fraction(E)`` is solved by ``n_iter`` fixed-point steps.
    """
    n = cal_ptr.shape[0] - 1
    raw = np.zeros(n, dtype=np.float64)
    corr = np.zeros(n, dtype=np.float64)
    frac = np.zeros(n, dtype=np.float64)
    for i in range(n):
        s = 0.0
        for k in range(cal_ptr[i], cal_ptr[i + 1]):
            s += log_energy[k]
        raw[i] = s
        p = first_plane[i] if first_plane[i] >= 0 else 0
        c = cos_theta[i] if first_plane[i] >= 0 else 1.0
        c = max(c, cfg[K_MIN_COS])
        t0 = cfg[K_X0_BELOW + p] / c
        t1 = t0 + cfg[K_CAL_X0] / c
        e = s
        f = 1.0
        if s > 0.0:
            for _ in range(n_iter):
                f = _fraction(e, t0, t1, cfg)
                e = s / f
        corr[i] = e
        frac[i] = f if s > 0.0 else 0.0
    return raw, corr, frac


@njit(nogil=True)
def tracker_energy(
    hits: np.ndarray,
    nhits: np.ndarray,
    clu_plane: np.ndarray,
    clu_pos: np.ndarray,
    clu_z: np.ndarray,
    slope: np.ndarray,
    cos_theta: np.ndarray,
    cfg: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Estimate the photon energy from the multiple scattering of its tracks.

    Every three consecutive hits ``a, b, c`` of a track give a kink, the change of slope
    ``d = (u_c - u_b) / (z_c - z_b) - (u_b - u_a) / (z_b - z_a)``. Its variance is the
    measurement part ``sigma^2 (1/dz_1^2 + (1/dz_1 + 1/dz_2)^2 + 1/dz_2^2)`` plus the scattering
    part ``A / p^2``, ``A = (13.6 MeV sqrt(x) (1 + 0.038 ln x))^2 (1 + s^2) (1 + s_x^2 + s_y^2)``
    for the projected slope ``s`` of the view and the foils and trays ``x`` (X0, path length
    ``1 / cos_theta``) between ``b`` and ``c``. Pooling the kinks of both views,
    ``1 / p^2 = sum(d^2 - measurement) / sum(A)``; the photon energy is ``TKR_ENERGY_SCALE * p``,
    capped at ``TKR_ENERGY_MAX_MEV`` (also when the kinks are no larger than the measurement
    errors). Events with fewer than ``TKR_ENERGY_MIN_KINKS`` kinks, or no direction, get 0.

    Returns energy float64 (n, MeV) and the number of kinks used int16 (n).
    """
    n = nhits.shape[0]
    energy = np.zeros(n, dtype=np.float64)
    kinks = np.zeros(n, dtype=np.int16)
    s2 = cfg[K_SIGMA_HIT] * cfg[K_SIGMA_HIT]
    for i in range(n):
        cz = cos_theta[i]
        if not cz == cz:
            continue
        cz = max(cz, cfg[K_MIN_COS])
        s_tot = slope[i, 0] * slope[i, 0] + slope[i, 1] * slope[i, 1]
        num = 0.0
        den = 0.0
        nk = 0
        for v in range(2):
            sv = slope[i, v]
            geo = (1.0 + sv * sv) * (1.0 + s_tot)
            for j in range(1, nhits[i, v] - 1):
                a = hits[i, v, j - 1]
                b = hits[i, v, j]
                c = hits[i, v, j + 1]
                dz1 = clu_z[b] - clu_z[a]
                dz2 = clu_z[c] - clu_z[b]
                d = (clu_pos[c] - clu_pos[b]) / dz2 - (clu_pos[b] - clu_pos[a]) / dz1
                meas = s2 * (1.0 / (dz1 * dz1) + (1.0 / dz1 + 1.0 / dz2) ** 2 + 1.0 / (dz2 * dz2))
                x0 = 0.0
                for q in range(clu_plane[b] + 1, clu_plane[c] + 1):
                    x0 += cfg[K_FOIL_X0 + q] + cfg[K_TRAY_X0]
                x0 /= cz
                th = cfg[K_HIGHLAND] * math.sqrt(x0) * (1.0 + 0.038 * math.log(x0))
                num += d * d - meas
                den += th * th * geo
                nk += 1
        kinks[i] = nk
        if nk < cfg[K_TKR_E_MIN_KINKS]:
            continue
        e_max = cfg[K_TKR_E_MAX]
        if num <= 0.0:
            energy[i] = e_max
        else:
            energy[i] = min(cfg[K_TKR_E_SCALE] * math.sqrt(den / num), e_max)
    return energy, kinks


# ---------------------------------------------------------------------------------------------
# sky
# ---------------------------------------------------------------------------------------------
@njit(nogil=True)
def to_sky(
    direction: np.ndarray, quat: np.ndarray, sc_pos: np.ndarray, gal: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rotate instrument-frame directions to the sky.

    ``quat`` (n, 4) is the attitude quaternion (x, y, z, w) scalar last (FT2 QSJ_1..4), whose
    rotation matrix takes instrument vectors to J2000; ``sc_pos`` (n, 3) the spacecraft position
    (any length unit, Earth centred J2000); ``gal`` the 3x3 J2000 -> Galactic matrix.
    Returns float64 RA, DEC, L, B, ZENITH_ANGLE, EARTH_AZIMUTH_ANGLE in degrees (NaN where the
    direction is NaN). The Earth azimuth is measured from north through east in the plane normal
    to the zenith.
    """
    n = direction.shape[0]
    ra = np.full(n, np.nan)
    dec = np.full(n, np.nan)
    gl = np.full(n, np.nan)
    gb = np.full(n, np.nan)
    zen = np.full(n, np.nan)
    az = np.full(n, np.nan)
    for i in range(n):
        dx = direction[i, 0]
        dy = direction[i, 1]
        dz = direction[i, 2]
        if dx != dx:
            continue
        x = quat[i, 0]
        y = quat[i, 1]
        z = quat[i, 2]
        w = quat[i, 3]
        qn = x * x + y * y + z * z + w * w
        s = 2.0 / qn
        ex = (1.0 - s * (y * y + z * z)) * dx + s * (x * y - z * w) * dy + s * (x * z + y * w) * dz
        ey = s * (x * y + z * w) * dx + (1.0 - s * (x * x + z * z)) * dy + s * (y * z - x * w) * dz
        ez = s * (x * z - y * w) * dx + s * (y * z + x * w) * dy + (1.0 - s * (x * x + y * y)) * dz
        en = math.sqrt(ex * ex + ey * ey + ez * ez)
        ex /= en
        ey /= en
        ez /= en
        r = math.atan2(ey, ex) * _DEG
        ra[i] = r + 360.0 if r < 0.0 else r
        dec[i] = math.asin(min(1.0, max(-1.0, ez))) * _DEG
        g0 = gal[0, 0] * ex + gal[0, 1] * ey + gal[0, 2] * ez
        g1 = gal[1, 0] * ex + gal[1, 1] * ey + gal[1, 2] * ez
        g2 = gal[2, 0] * ex + gal[2, 1] * ey + gal[2, 2] * ez
        lo = math.atan2(g1, g0) * _DEG
        gl[i] = lo + 360.0 if lo < 0.0 else lo
        gb[i] = math.asin(min(1.0, max(-1.0, g2))) * _DEG
        px = sc_pos[i, 0]
        py = sc_pos[i, 1]
        pz = sc_pos[i, 2]
        pn = math.sqrt(px * px + py * py + pz * pz)
        zx = px / pn
        zy = py / pn
        zz = pz / pn
        cz = ex * zx + ey * zy + ez * zz
        zen[i] = math.acos(min(1.0, max(-1.0, cz))) * _DEG
        # east = celestial pole x zenith, north = zenith x east
        eax = -zy
        eay = zx
        ean = math.sqrt(eax * eax + eay * eay)
        if ean == 0.0:
            eax, eay, ean = 0.0, 1.0, 1.0
        eax /= ean
        eay /= ean
        nx = -zz * eay
        ny = zz * eax
        nz = zx * eay - zy * eax
        a = math.atan2(ex * eax + ey * eay, ex * nx + ey * ny + ez * nz) * _DEG
        az[i] = a + 360.0 if a < 0.0 else a
    return ra, dec, gl, gb, zen, az


# ---------------------------------------------------------------------------------------------
# ACD and classification
# ---------------------------------------------------------------------------------------------
@njit(nogil=True)
def _acd_tile(o: np.ndarray, d: np.ndarray, cfg: np.ndarray) -> int:
    h = cfg[K_ACD_HALF]
    lo_z = cfg[K_SIDE_Z + 6]
    tmin = np.inf
    axis = -1
    for k in range(3):
        lo = lo_z if k == 2 else -h
        hi = cfg[K_ACD_TOP] if k == 2 else h
        if d[k] > 0:
            t = (hi - o[k]) / d[k]
        elif d[k] < 0:
            t = (lo - o[k]) / d[k]
        else:
            continue
        if t < tmin:
            tmin = t
            axis = k
    if axis < 0 or (axis == 2 and d[2] < 0):
        return -1
    x = o[0] + tmin * d[0]
    y = o[1] + tmin * d[1]
    z = o[2] + tmin * d[2]
    p = cfg[K_ACD_TILE]
    col_x = min(max(math.floor((x + h) / p), 0), 4)
    col_y = min(max(math.floor((y + h) / p), 0), 4)
    if axis == 2:
        return col_y * 10 + col_x
    row = -1
    for r in range(4):
        if z >= cfg[K_SIDE_Z + 2 * r] and z < cfg[K_SIDE_Z + 2 * r + 1]:
            row = r
            break
    if row < 0:
        return -1
    if axis == 0:
        face = 3 if d[0] > 0 else 1
        col = col_y
    else:
        face = 4 if d[1] > 0 else 2
        col = col_x
    return face * 100 + row * 10 + (0 if row == 3 else col)


@njit(nogil=True)
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
    cfg: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Classify events onto EVENT_CLASS / EVENT_TYPE bits (rules in :mod:`.params`).

    Returns event_class uint32, event_type uint32, acd_tile int16 (tile crossed by the track
    extrapolation towards the source, -1 none), acd_tile_energy float64 (MeV in that tile),
    acd_total_energy float64 (MeV), psf_error float64 (deg, estimated direction error from
    ``var_slope`` of :func:`refit_tracks`).
    """
    n = has_track.shape[0]
    ev_class = np.zeros(n, dtype=np.uint32)
    ev_type = np.zeros(n, dtype=np.uint32)
    tile_o = np.full(n, -1, dtype=np.int16)
    tile_e = np.zeros(n, dtype=np.float64)
    acd_tot = np.zeros(n, dtype=np.float64)
    psf = np.full(n, np.nan)
    for i in range(n):
        tot = 0.0
        for k in range(acd_ptr[i], acd_ptr[i + 1]):
            tot += acd_energy[k]
        acd_tot[i] = tot
        if not has_track[i]:
            continue
        tile = _acd_tile(vertex[i], direction[i], cfg)
        tile_o[i] = tile
        te = 0.0
        if tile >= 0:
            for k in range(acd_ptr[i], acd_ptr[i + 1]):
                if acd_id[k] == tile:
                    te = acd_energy[k]
        tile_e[i] = te
        # estimated direction error from the slope variances (with multiple scattering)
        cz = direction[i, 2]
        err = math.sqrt(var_slope[i, 0] + var_slope[i, 1]) * cz * cz * _DEG
        psf[i] = err
        t = np.uint32(cfg[K_BIT_FRONT] if first_plane[i] < cfg[K_FIRST_BACK] else cfg[K_BIT_BACK])
        q = 0
        while q < 3 and err > cfg[K_PSF_EDGES + q]:
            q += 1
        t |= np.uint32(cfg[K_BIT_PSF + 3 - q])
        q = 0
        while q < 3 and fraction[i] < cfg[K_EDISP_EDGES + q]:
            q += 1
        t |= np.uint32(cfg[K_BIT_EDISP + 3 - q])
        ev_type[i] = t
        if raw_energy[i] < cfg[K_MIN_CAL_E] or te >= cfg[K_ACD_TRANSIENT]:
            continue
        c = np.uint32(cfg[K_BIT_TRANSIENT])
        rms = max(
            math.sqrt(chi2[i, 0] / nhits[i, 0]) * cfg[K_SIGMA_HIT],
            math.sqrt(chi2[i, 1] / nhits[i, 1]) * cfg[K_SIGMA_HIT],
        )
        if te < cfg[K_ACD_VETO] and rms < cfg[K_SOURCE_RMS]:
            c |= np.uint32(cfg[K_BIT_SOURCE]) | np.uint32(cfg[K_BIT_SOURCEVETO])
            if rms < cfg[K_CLEAN_RMS] and min(nhits[i, 0], nhits[i, 1]) >= cfg[K_CLEAN_HITS]:
                c |= np.uint32(cfg[K_BIT_CLEAN])
                if energy[i] >= cfg[K_UCLEAN_E]:
                    c |= np.uint32(cfg[K_BIT_UCLEAN])
                    if tot < cfg[K_UCVETO_ACD]:
                        c |= np.uint32(cfg[K_BIT_UCVETO])
        ev_class[i] = c
    return ev_class, ev_type, tile_o, tile_e, acd_tot, psf
