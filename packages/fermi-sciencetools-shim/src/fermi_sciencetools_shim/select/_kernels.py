"""Numba kernels of gtselect: the cone (``angsep``) test.

Plain float64 arrays in, arrays out; the plain-numpy twin is :mod:`._reference`.
"""

from __future__ import annotations

import math

import numpy as np

from fermi_sciencetools_shim.jit import njit

_DEG = 4.0 * math.atan(1.0) / 180.0


@njit(nogil=True)
def _angsep(ra: float, dec: float, ra0: float, dec0: float) -> float:
    sra = math.sin((ra0 - ra) * _DEG / 2.0)
    sdec = math.sin((dec0 - dec) * _DEG / 2.0)
    a = sdec * sdec + math.cos(dec * _DEG) * math.cos(dec0 * _DEG) * sra * sra
    if a < 0.0:
        a = 0.0
    elif a > 1.0:
        a = 1.0
    return 2.0 * math.atan2(math.sqrt(a), math.sqrt(1.0 - a)) / _DEG


@njit(nogil=True)
def angular_separation(ra: np.ndarray, dec: np.ndarray, ra0: float, dec0: float) -> np.ndarray:
    """Return the angle (degrees, float64) between each ``(ra[i], dec[i])`` and ``(ra0, dec0)``.

    ``ra`` and ``dec`` are float64 arrays in degrees; cfitsio ``angsep`` formula.
    """
    out = np.empty(ra.shape[0], dtype=np.float64)
    for i in range(ra.shape[0]):
        out[i] = _angsep(ra[i], dec[i], ra0, dec0)
    return out


@njit(nogil=True)
def cone_mask(ra: np.ndarray, dec: np.ndarray, ra0: float, dec0: float, radius: float) -> np.ndarray:
    """Return a bool array: ``angsep(ra[i], dec[i], ra0, dec0) < radius``."""
    out = np.empty(ra.shape[0], dtype=np.bool_)
    for i in range(ra.shape[0]):
        out[i] = _angsep(ra[i], dec[i], ra0, dec0) < radius
    return out
