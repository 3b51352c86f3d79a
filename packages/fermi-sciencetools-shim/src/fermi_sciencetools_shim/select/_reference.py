"""Plain-numpy twins of :mod:`._kernels` (the tests compare the two).

Same formula, same operation order, no numba: the reference the kernels must reproduce.
"""

from __future__ import annotations

import numpy as np

_DEG = 4.0 * np.arctan(1.0) / 180.0


def angular_separation(ra: np.ndarray, dec: np.ndarray, ra0: float, dec0: float) -> np.ndarray:
    """Return the angle (degrees) between each ``(ra, dec)`` and ``(ra0, dec0)``.

    cfitsio ``angsep`` (haversine in double precision, ``a`` clamped to [0, 1]).
    """
    ra = np.asarray(ra, dtype=np.float64)
    dec = np.asarray(dec, dtype=np.float64)
    sra = np.sin((ra0 - ra) * _DEG / 2.0)
    sdec = np.sin((dec0 - dec) * _DEG / 2.0)
    a = sdec * sdec + np.cos(dec * _DEG) * np.cos(dec0 * _DEG) * sra * sra
    a = np.clip(a, 0.0, 1.0)
    return 2.0 * np.arctan2(np.sqrt(a), np.sqrt(1.0 - a)) / _DEG


def cone_mask(ra: np.ndarray, dec: np.ndarray, ra0: float, dec0: float, radius: float) -> np.ndarray:
    """Return ``angsep(ra, dec, ra0, dec0) < radius`` (strict, as gtselect's filter)."""
    return angular_separation(ra, dec, ra0, dec0) < radius
