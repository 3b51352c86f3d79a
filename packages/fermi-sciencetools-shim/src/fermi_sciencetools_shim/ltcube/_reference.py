"""Plain-numpy twin of :mod:`fermi_sciencetools_shim.ltcube._kernels` (brute force, for tests)."""

from __future__ import annotations

import numpy as np


def accumulate_livetime(
    pix: np.ndarray,
    scz: np.ndarray,
    zenith: np.ndarray,
    delta: np.ndarray,
    wdelta: np.ndarray,
    nbins: int,
    cos_zmax: float,
    cos_zmin: float,
    zenith_cut: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Return float32 ``(exposure, weighted)`` of shape (npix, nbins), row by row over all pixels.

    ``pix`` is (npix, 3) unit vectors; the other arguments as in the kernel.
    """
    npix = pix.shape[0]
    exposure = np.zeros((npix, nbins), dtype=np.float32)
    weighted = np.zeros((npix, nbins), dtype=np.float32)
    for r in range(delta.shape[0]):
        if delta[r] <= 0.0:
            continue
        c = pix @ scz[r]
        ok = c > 0.0
        if zenith_cut:
            cz = pix @ zenith[r]
            ok &= cz > cos_zmax
            if cos_zmin < 1.0:
                ok &= cz < cos_zmin
        p = np.flatnonzero(ok)
        # 1 - c can round below zero when a pointing falls on a pixel centre
        b = np.minimum((np.sqrt(np.maximum(1.0 - c[p], 0.0)) * nbins).astype(np.int64), nbins - 1)
        # each pixel appears once per row, so fancy-index addition is exact; the sum is done in
        # float64 and rounded to float32 like the kernel's `float32 += float64`
        exposure[p, b] = (exposure[p, b].astype(np.float64) + delta[r]).astype(np.float32)
        weighted[p, b] = (weighted[p, b].astype(np.float64) + wdelta[r]).astype(np.float32)
    return exposure, weighted


def accumulate_livetime_phi(
    pix: np.ndarray,
    frames: np.ndarray,
    zenith: np.ndarray,
    delta: np.ndarray,
    wdelta: np.ndarray,
    nbins: int,
    phibins: int,
    cos_zmax: float,
    cos_zmin: float,
    zenith_cut: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force twin of the phi kernel: float32 arrays of shape (npix, nbins * (1 + phibins)).

    ``frames`` as given to the kernel (:func:`..livetime.instrument_frames`).
    """
    npix = pix.shape[0]
    ncells = nbins * (1 + phibins)
    exposure = np.zeros((npix, ncells), dtype=np.float32)
    weighted = np.zeros((npix, ncells), dtype=np.float32)
    for r in range(delta.shape[0]):
        if delta[r] <= 0.0:
            continue
        c = pix @ frames[r, 2]
        ok = c > 0.0
        if zenith_cut:
            cz = pix @ zenith[r]
            ok &= cz > cos_zmax
            if cos_zmin < 1.0:
                ok &= cz < cos_zmin
        p = np.flatnonzero(ok)
        ci = np.minimum((np.sqrt(np.maximum(1.0 - c[p], 0.0)) * nbins).astype(np.int64), nbins - 1)
        lx = pix[p] @ frames[r, 0]
        ly = pix[p] @ frames[r, 1]
        phi = np.where((lx == 0.0) & (ly == 0.0), 0.0, np.arctan2(ly, lx))
        phi = np.where(phi < 0.0, phi + 2.0 * np.pi, phi)
        folded = 1.0 - np.abs(np.pi / 4.0 - np.fmod(phi, np.pi / 2.0)) / (np.pi / 4.0)
        pb = np.minimum((folded * phibins).astype(np.int64), phibins - 1)
        for cells in (ci, (pb + 1) * nbins + ci):
            exposure[p, cells] = (exposure[p, cells].astype(np.float64) + delta[r]).astype(np.float32)
            weighted[p, cells] = (weighted[p, cells].astype(np.float64) + wdelta[r]).astype(np.float32)
    return exposure, weighted
