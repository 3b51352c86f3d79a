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
