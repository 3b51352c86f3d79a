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
