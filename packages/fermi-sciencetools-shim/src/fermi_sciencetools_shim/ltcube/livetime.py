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
from collections.abc import Callable
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


def instrument_frames(scz: np.ndarray, scx: np.ndarray) -> np.ndarray:
    """Return (nrows, 3, 3) instrument axes ``[x, y, z]`` from S/C z and x unit vectors.

    As CLHEP's ``HepRotation(x, z cross x, z)``: the columns are normalised, the pair with
    the smallest dot product is made orthogonal (Gram-Schmidt) and the third axis is their
    cross product.
    """

    def unit(v: np.ndarray) -> np.ndarray:
        return v / np.linalg.norm(v, axis=-1, keepdims=True)

    ux = unit(np.asarray(scx, dtype=np.float64))
    uz = unit(np.asarray(scz, dtype=np.float64))
    uy = unit(np.cross(uz, ux))
    d12 = np.einsum("ij,ij->i", ux, uy)
    d13 = np.einsum("ij,ij->i", ux, uz)
    d23 = np.einsum("ij,ij->i", uy, uz)
    f12, f13, f23 = np.abs(d12), np.abs(d13), np.abs(d23)
    out = np.empty((ux.shape[0], 3, 3), dtype=np.float64)
    case_a = (f12 <= f13) & (f12 <= f23)
    case_b = ~case_a & (f13 <= f23)
    # a: keep x, orthogonalise y against x, z = x cross y
    v1 = ux
    v2 = unit(uy - d12[:, None] * ux)
    a = (v1, v2, np.cross(v1, v2))
    # b: keep z, orthogonalise x against z, y = z cross x
    v3 = uz
    w1 = unit(ux - d13[:, None] * uz)
    b = (w1, np.cross(v3, w1), v3)
    # c: keep y, orthogonalise z against y, x = y cross z
    y2 = uy
    z2 = unit(uz - d23[:, None] * uy)
    c = (np.cross(y2, z2), y2, z2)
    for axis in range(3):
        out[:, axis] = np.where(case_a[:, None], a[axis], np.where(case_b[:, None], b[axis], c[axis]))
    return out


def livetime_cube(
    grid: LivetimeGrid,
    gti: Gti,
    ft2: dict[str, np.ndarray],
    nbins: int,
    zmin: float = 0.0,
    zmax: float = 180.0,
    threads: int | None = None,
    phibins: int = 0,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return float32 ``(exposure, weighted)`` arrays of shape (npix, nbins * (1 + phibins)).

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
    phibins
        Number of azimuth bins (0: none). With phibins > 0, ``ft2`` also needs ``RA_SCX``
        and ``DEC_SCX``; columns ``0..nbins-1`` are the sum over phi, then one block of
        ``nbins`` per phi bin (the ScienceTools' ``CosineBinner`` layout).
    progress
        Called with the number of FT2 rows done after each chunk.
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
    ncells = nbins * (1 + phibins) if phibins > 0 else nbins
    acc = np.zeros((grid.padded_xyz.shape[0], ncells, 2), dtype=np.float32)
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
            geometry = (px, py, pz, bx, by, bz, thresholds)
            zenith = unit_vector_components(ft2["RA_ZENITH"][sel], ft2["DEC_ZENITH"][sel])
            weights = (np.ascontiguousarray(delta[sel]), np.ascontiguousarray(wdelta[sel]))
            cuts = (cos_zmax, cos_zmin, zenith_cut, acc)
            if phibins > 0:
                frames = instrument_frames(
                    np.stack(unit_vector_components(ft2["RA_SCZ"][sel], ft2["DEC_SCZ"][sel]), axis=-1),
                    np.stack(unit_vector_components(ft2["RA_SCX"][sel], ft2["DEC_SCX"][sel]), axis=-1),
                )
                kernel = _kernels.accumulate_livetime_phi
                args = (*geometry, np.ascontiguousarray(frames), *zenith, *weights, nbins, phibins, *cuts)
            else:
                kernel = _kernels.accumulate_livetime
                scz = unit_vector_components(ft2["RA_SCZ"][sel], ft2["DEC_SCZ"][sel])
                args = (*geometry, *scz, *zenith, *weights, nbins, *cuts)
            if pool is None:
                _run(kernel, block_lists[0], args)
            else:
                for future in [pool.submit(_run, kernel, blocks, args) for blocks in block_lists]:
                    future.result()
            if progress is not None:
                progress(int(sel.size + lo))
    finally:
        if pool is not None:
            pool.shutdown()
    cells = acc[: grid.npix]
    return np.ascontiguousarray(cells[:, :, 0]), np.ascontiguousarray(cells[:, :, 1])


def _run(kernel: Callable[..., None], blocks: np.ndarray, args: tuple) -> None:
    """Run an accumulation kernel on ``blocks`` (the block list goes after the pixel geometry)."""
    px, py, pz, bx, by, bz, thresholds, *rest = args
    kernel(px, py, pz, bx, by, bz, thresholds, blocks, *rest)
