"""Livetime accumulation of gtltcube: FT2 row weights, unit vectors and the threaded kernel run.

The kernel (:func:`fermi_sciencetools_shim.ltcube._kernels.accumulate_livetime`) releases the
GIL and fills only the pixel blocks it is given; this module splits the blocks between
threads (interleaved, so that each thread gets a similar share of the sky above the
horizon) and runs them on the same rows. Each block's cells are written by one thread only,
so the result does not depend on the number of threads.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from fermi_sciencetools_shim.gti import Gti
from fermi_sciencetools_shim.ltcube import _kernels
from fermi_sciencetools_shim.ltcube.grid import LivetimeGrid, unit_vector_components

#: Rows converted to unit vectors and handed to the kernel at a time (bounds memory).
CHUNK_ROWS = 262_144
#: Below this many (row, pixel) pairs a single thread is used (thread start-up not worth it).
_MIN_THREADED_WORK = 20_000_000


def default_threads() -> int:
    """Return the number of threads: ``NUMBA_NUM_THREADS`` if set, else the usable CPUs."""
    value = os.environ.get("NUMBA_NUM_THREADS", "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def row_weights(gti: Gti, ft2: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(delta, wdelta)``: livetime x GTI overlap fraction, and that x livetime fraction.

    Rows with ``STOP <= START`` get zero weight.
    """
    start, stop, livetime = ft2["START"], ft2["STOP"], ft2["LIVETIME"]
    duration = stop - start
    good = duration > 0
    delta = np.where(good, livetime * gti.overlap_fraction(start, stop), 0.0)
    wdelta = delta * livetime / np.where(good, duration, 1.0)
    return delta, np.where(good, wdelta, 0.0)


def livetime_cube(
    grid: LivetimeGrid,
    gti: Gti,
    ft2: dict[str, np.ndarray],
    nbins: int,
    zmin: float = 0.0,
    zmax: float = 180.0,
    threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return float32 ``(exposure, weighted)`` arrays of shape (npix, nbins).

    Parameters
    ----------
    grid
        HEALPix pixel centres and blocks.
    gti
        Good time intervals; each FT2 row is weighted by its overlap fraction with them.
    ft2
        Float64 columns ``START``, ``STOP``, ``LIVETIME``, ``RA_SCZ``, ``DEC_SCZ``,
        ``RA_ZENITH``, ``DEC_ZENITH``.
    nbins
        Number of ``sqrt(1 - cos theta)`` bins.
    zmin, zmax
        Zenith-angle cut in degrees (no test when 0 and 180).
    threads
        Kernel threads (default :func:`default_threads`); the result does not depend on it.
    """
    if grid.block_size != _kernels.BLOCK:
        raise ValueError(f"the kernel needs blocks of {_kernels.BLOCK} pixels (grid has {grid.block_size})")
    delta, wdelta = row_weights(gti, ft2)
    zenith_cut = zmax < 180.0 or zmin > 0.0
    cos_zmax = math.cos(math.radians(zmax))
    cos_zmin = math.cos(math.radians(zmin)) if zmin > 0.0 else 1.0
    thresholds = np.empty((grid.nblocks, 3, 2), dtype=np.float64)
    for j, cut in enumerate((0.0, cos_zmax, cos_zmin)):
        thresholds[:, j, 0], thresholds[:, j, 1] = grid.cap_thresholds(cut)
    px, py, pz = (np.ascontiguousarray(grid.padded_xyz[:, i]) for i in range(3))
    bx, by, bz = (np.ascontiguousarray(grid.block_xyz[:, i]) for i in range(3))
    acc = np.zeros((grid.padded_xyz.shape[0], nbins, 2), dtype=np.float32)
    rows = np.flatnonzero(delta > 0)
    nthreads = max(1, threads or default_threads())
    if rows.size * grid.npix < _MIN_THREADED_WORK:
        nthreads = 1
    nthreads = min(nthreads, grid.nblocks)
    block_lists = [np.arange(t, grid.nblocks, nthreads, dtype=np.int64) for t in range(nthreads)]
    pool = ThreadPoolExecutor(nthreads) if nthreads > 1 else None
    try:
        for lo in range(0, rows.size, CHUNK_ROWS):
            sel = rows[lo : lo + CHUNK_ROWS]
            args = (
                px,
                py,
                pz,
                bx,
                by,
                bz,
                thresholds,
                *unit_vector_components(ft2["RA_SCZ"][sel], ft2["DEC_SCZ"][sel]),
                *unit_vector_components(ft2["RA_ZENITH"][sel], ft2["DEC_ZENITH"][sel]),
                np.ascontiguousarray(delta[sel]),
                np.ascontiguousarray(wdelta[sel]),
                nbins,
                cos_zmax,
                cos_zmin,
                zenith_cut,
                acc,
            )
            if pool is None:
                _run(block_lists[0], args)
            else:
                for future in [pool.submit(_run, blocks, args) for blocks in block_lists]:
                    future.result()
    finally:
        if pool is not None:
            pool.shutdown()
    cells = acc[: grid.npix]
    return np.ascontiguousarray(cells[:, :, 0]), np.ascontiguousarray(cells[:, :, 1])


def _run(blocks: np.ndarray, args: tuple) -> None:
    px, py, pz, bx, by, bz, thresholds, *rest = args
    _kernels.accumulate_livetime(px, py, pz, bx, by, bz, thresholds, blocks, *rest)
