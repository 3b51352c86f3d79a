"""Numba kernels of gtbin: bin indices and histogram filling.

Plain arrays in and out, explicit dtypes, no I/O. Each function has a numpy twin of the
same name in :mod:`fermi_sciencetools_shim.bin._reference`. An index of -1 means "outside
every bin" (evtbin's convention); such values are never counted.
"""

from __future__ import annotations

import math

import numpy as np

from fermi_sciencetools_shim.jit import njit


@njit
def linear_index(values, lo, hi, width):  # pragma: no cover - compiled
    """Index ``int((v - lo) / width)`` for ``lo <= v < hi``, else -1 (float64 in, int64 out)."""
    n = values.shape[0]
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        v = values[i]
        if v >= lo and v < hi:
            out[i] = np.int64((v - lo) / width)
        else:
            out[i] = -1
    return out


@njit
def log_index(values, lo, hi, nbins):  # pragma: no cover - compiled
    """Index ``int(nbins * ln(v / lo) / ln(hi / lo))`` for ``lo <= v < hi``, else -1."""
    n = values.shape[0]
    out = np.empty(n, dtype=np.int64)
    log_range = math.log(hi / lo)
    for i in range(n):
        v = values[i]
        if v >= lo and v < hi:
            k = np.int64(nbins * math.log(v / lo) / log_range)
            out[i] = k if k < nbins else nbins - 1
        else:
            out[i] = -1
    return out


@njit
def interval_index(values, starts, stops):  # pragma: no cover - compiled
    """Index of the interval with ``starts[k] <= v < stops[k]`` (sorted, disjoint), else -1."""
    n = values.shape[0]
    m = starts.shape[0]
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        v = values[i]
        # binary search for the last start <= v
        a = 0
        b = m
        while a < b:
            mid = (a + b) // 2
            if starts[mid] <= v:
                a = mid + 1
            else:
                b = mid
        k = a - 1
        if k >= 0 and v < stops[k]:
            out[i] = k
        else:
            out[i] = -1
    return out


@njit
def count_3d(ix, iy, iz, nx, ny, nz):  # pragma: no cover - compiled
    """Histogram of index triples into an int64 array of shape ``(nz, ny, nx)``.

    Triples with any index -1 (or out of range) are skipped. Use ``iz`` of zeros and ``nz=1``
    for a 2-d map, and ``iy`` of zeros and ``ny=1`` as well for a 1-d histogram.
    """
    out = np.zeros((nz, ny, nx), dtype=np.int64)
    for i in range(ix.shape[0]):
        x = ix[i]
        y = iy[i]
        z = iz[i]
        if x >= 0 and x < nx and y >= 0 and y < ny and z >= 0 and z < nz:
            out[z, y, x] += 1
    return out


@njit
def _spread_bits(v):  # pragma: no cover - compiled
    """Interleave the bits of ``v`` with zeros (bit i -> bit 2i), for ``v < 2**31``."""
    out = np.int64(0)
    for i in range(31):
        out |= ((v >> i) & 1) << (2 * i)
    return out


@njit
def healpix_pixels(lon_deg, lat_deg, order, nest):  # pragma: no cover - compiled
    """HEALPix pixel of each direction (degrees) at ``nside = 2**order``; -1 for NaN input.

    The HEALPix ``ang2pix`` of Gorski et al. (2005) as the Healpix C++ library evaluates it
    for a ``pointing``: ``theta = (90 - lat) pi / 180``, ``phi = lon pi / 180``,
    ``z = cos(theta)``, and ``sin(theta)`` instead of ``sqrt(1 - z^2)`` within 0.01 rad of
    a pole. ``nest`` selects the NESTED numbering, else RING. int64 out.
    """
    n = lon_deg.shape[0]
    out = np.empty(n, dtype=np.int64)
    nside = np.int64(1) << order
    npix = 12 * nside * nside
    ncap = 2 * nside * (nside - 1)
    nl4 = 4 * nside
    pi = math.pi
    for i in range(n):
        lon = lon_deg[i]
        lat = lat_deg[i]
        if not (math.isfinite(lon) and math.isfinite(lat)):
            out[i] = -1
            continue
        theta = (90.0 - lat) * pi / 180.0
        phi = lon * pi / 180.0
        z = math.cos(theta)
        za = abs(z)
        near_pole = theta < 0.01 or theta > 3.14159 - 0.01
        tt = np.fmod(phi * (2.0 / pi), 4.0)
        if tt < 0.0:
            tt += 4.0
        if tt >= 4.0:
            tt = 0.0
        if za <= 2.0 / 3.0:
            temp1 = nside * (0.5 + tt)
            temp2 = nside * (z * 0.75)
            jp = np.int64(temp1 - temp2)
            jm = np.int64(temp1 + temp2)
            if nest:
                ifp = jp >> order
                ifm = jm >> order
                if ifp == ifm:
                    face = ifp | 4
                elif ifp < ifm:
                    face = ifp
                else:
                    face = ifm + 8
                ix = jm & (nside - 1)
                iy = nside - (jp & (nside - 1)) - 1
                out[i] = (face << (2 * order)) + _spread_bits(ix) + (_spread_bits(iy) << 1)
            else:
                ir = nside + 1 + jp - jm
                kshift = 1 - (ir & 1)
                ip = ((jp + jm - nside + kshift + 1) >> 1) & (nl4 - 1)
                out[i] = ncap + (ir - 1) * nl4 + ip
        else:
            if near_pole:
                tmp = nside * math.sin(theta) / math.sqrt((1.0 + za) / 3.0)
            else:
                tmp = nside * math.sqrt(3.0 * (1.0 - za))
            if nest:
                ntt = min(3, np.int64(tt))
                tp = tt - ntt
                jp = min(np.int64(tp * tmp), nside - 1)
                jm = min(np.int64((1.0 - tp) * tmp), nside - 1)
                if z >= 0:
                    face = ntt
                    ix = nside - jm - 1
                    iy = nside - jp - 1
                else:
                    face = ntt + 8
                    ix = jp
                    iy = jm
                out[i] = (face << (2 * order)) + _spread_bits(ix) + (_spread_bits(iy) << 1)
            else:
                tp = tt - np.int64(tt)
                jp = np.int64(tp * tmp)
                jm = np.int64((1.0 - tp) * tmp)
                ir = jp + jm + 1
                ip = np.int64(tt * ir)
                if ip >= 4 * ir:
                    ip = 4 * ir - 1
                if z > 0:
                    out[i] = 2 * ir * (ir - 1) + ip
                else:
                    out[i] = npix - 2 * ir * (ir + 1) + ip
    return out


@njit
def lookup_index(values, table):  # pragma: no cover - compiled
    """Position of each value in the sorted int64 ``table``, -1 when absent (or value < 0)."""
    n = values.shape[0]
    m = table.shape[0]
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        v = values[i]
        a = 0
        b = m
        while a < b:
            mid = (a + b) // 2
            if table[mid] < v:
                a = mid + 1
            else:
                b = mid
        out[i] = a if (v >= 0 and a < m and table[a] == v) else -1
    return out
