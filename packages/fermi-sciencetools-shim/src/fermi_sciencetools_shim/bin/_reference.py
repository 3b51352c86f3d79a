"""Plain-numpy twins of :mod:`fermi_sciencetools_shim.bin._kernels` (used by the tests)."""

from __future__ import annotations

import numpy as np


def linear_index(values: np.ndarray, lo: float, hi: float, width: float) -> np.ndarray:
    """Numpy version of :func:`fermi_sciencetools_shim.bin._kernels.linear_index`."""
    values = np.asarray(values, dtype=np.float64)
    inside = (values >= lo) & (values < hi)
    idx = np.trunc((values - lo) / width)
    return np.where(inside, idx, -1).astype(np.int64)


def log_index(values: np.ndarray, lo: float, hi: float, nbins: int) -> np.ndarray:
    """Numpy version of :func:`fermi_sciencetools_shim.bin._kernels.log_index`."""
    values = np.asarray(values, dtype=np.float64)
    inside = (values >= lo) & (values < hi)
    with np.errstate(invalid="ignore", divide="ignore"):
        idx = np.trunc(nbins * np.log(np.where(inside, values, lo) / lo) / np.log(hi / lo))
    return np.where(inside, np.minimum(idx, nbins - 1), -1).astype(np.int64)


def interval_index(values: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Numpy version of :func:`fermi_sciencetools_shim.bin._kernels.interval_index`."""
    values = np.asarray(values, dtype=np.float64)
    k = np.searchsorted(starts, values, side="right") - 1
    ok = (k >= 0) & (values < stops[np.clip(k, 0, None)])
    return np.where(ok, k, -1).astype(np.int64)


def count_3d(ix: np.ndarray, iy: np.ndarray, iz: np.ndarray, nx: int, ny: int, nz: int) -> np.ndarray:
    """Numpy version of :func:`fermi_sciencetools_shim.bin._kernels.count_3d`."""
    ok = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny) & (iz >= 0) & (iz < nz)
    out = np.zeros((nz, ny, nx), dtype=np.int64)
    np.add.at(out, (iz[ok], iy[ok], ix[ok]), 1)
    return out


def _spread_bits(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.int64)
    out = np.zeros_like(v)
    for i in range(31):
        out |= ((v >> i) & 1) << (2 * i)
    return out


def healpix_pixels(lon_deg: np.ndarray, lat_deg: np.ndarray, order: int, nest: bool) -> np.ndarray:
    """Numpy version of :func:`fermi_sciencetools_shim.bin._kernels.healpix_pixels`.

    Written from the formulas of Gorski et al. (2005), ApJ 622, 759 (section 4 and the
    appendix): rings in the polar caps ``|z| > 2/3`` and in the equatorial belt.
    """
    lon = np.asarray(lon_deg, dtype=np.float64)
    lat = np.asarray(lat_deg, dtype=np.float64)
    nside = 1 << order
    npix = 12 * nside * nside
    ok = np.isfinite(lon) & np.isfinite(lat)
    lon = np.where(ok, lon, 0.0)
    lat = np.where(ok, lat, 0.0)
    theta = (90.0 - lat) * np.pi / 180.0
    phi = lon * np.pi / 180.0
    z = np.cos(theta)
    za = np.abs(z)
    tt = np.fmod(phi * (2.0 / np.pi), 4.0)
    tt = np.where(tt < 0.0, tt + 4.0, tt)
    tt = np.where(tt >= 4.0, 0.0, tt)
    belt = za <= 2.0 / 3.0
    # equatorial belt: the two edge-line indices through the point
    jp_b = np.trunc(nside * (0.5 + tt) - nside * (z * 0.75)).astype(np.int64)
    jm_b = np.trunc(nside * (0.5 + tt) + nside * (z * 0.75)).astype(np.int64)
    # polar caps: distance to the pole in units of rings
    near_pole = (theta < 0.01) | (theta > 3.14159 - 0.01)
    with np.errstate(invalid="ignore"):
        tmp = np.where(
            near_pole, nside * np.sin(theta) / np.sqrt((1.0 + za) / 3.0), nside * np.sqrt(3.0 * (1.0 - za))
        )
    if nest:
        ifp, ifm = jp_b >> order, jm_b >> order
        face_b = np.where(ifp == ifm, ifp | 4, np.where(ifp < ifm, ifp, ifm + 8))
        ix_b = jm_b & (nside - 1)
        iy_b = nside - (jp_b & (nside - 1)) - 1
        ntt = np.minimum(3, np.trunc(tt).astype(np.int64))
        tp = tt - ntt
        jp_c = np.minimum(np.trunc(tp * tmp).astype(np.int64), nside - 1)
        jm_c = np.minimum(np.trunc((1.0 - tp) * tmp).astype(np.int64), nside - 1)
        north = z >= 0
        face_c = np.where(north, ntt, ntt + 8)
        ix_c = np.where(north, nside - jm_c - 1, jp_c)
        iy_c = np.where(north, nside - jp_c - 1, jm_c)
        face = np.where(belt, face_b, face_c)
        ix = np.where(belt, ix_b, ix_c)
        iy = np.where(belt, iy_b, iy_c)
        pix = (face << (2 * order)) + _spread_bits(ix) + (_spread_bits(iy) << 1)
    else:
        ir_b = nside + 1 + jp_b - jm_b
        kshift = 1 - (ir_b & 1)
        ip_b = ((jp_b + jm_b - nside + kshift + 1) >> 1) & (4 * nside - 1)
        pix_b = 2 * nside * (nside - 1) + (ir_b - 1) * 4 * nside + ip_b
        tp = tt - np.trunc(tt)
        jp_c = np.trunc(tp * tmp).astype(np.int64)
        jm_c = np.trunc((1.0 - tp) * tmp).astype(np.int64)
        ir_c = jp_c + jm_c + 1
        ip_c = np.minimum(np.trunc(tt * ir_c).astype(np.int64), 4 * ir_c - 1)
        pix_c = np.where(z > 0, 2 * ir_c * (ir_c - 1) + ip_c, npix - 2 * ir_c * (ir_c + 1) + ip_c)
        pix = np.where(belt, pix_b, pix_c)
    return np.where(ok, pix, -1).astype(np.int64)


def lookup_index(values: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Numpy version of :func:`fermi_sciencetools_shim.bin._kernels.lookup_index`."""
    values = np.asarray(values, dtype=np.int64)
    k = np.searchsorted(table, values)
    kc = np.clip(k, 0, max(table.size - 1, 0))
    found = (
        (values >= 0) & (k < table.size) & (table[kc] == values)
        if table.size
        else np.zeros(values.size, bool)
    )
    return np.where(found, k, -1).astype(np.int64)
