"""Numba kernel of gtltcube: accumulate FT2 livetime into (pixel, cos-theta bin) cells.

For every spacecraft row with weight ``delta`` > 0 and every HEALPix pixel centre ``p``
with ``cos(theta) = p . z_sc > 0`` (and, with a zenith cut, ``p . zenith > cos(zmax)`` and
``p . zenith < cos(zmin)`` when zmin > 0) the kernel adds ``delta`` to
``acc[p, bin, 0]`` and ``wdelta`` to ``acc[p, bin, 1]`` with
``bin = min(int(sqrt(max(1 - cos(theta), 0)) * nbins), nbins - 1)``.

Speed (see ``bench/bench_ltcube_kernel.py``):

* pixels come in blocks of :data:`BLOCK` consecutive NESTED pixels (compact on the sky).
  Each block has a bounding cap reduced to cosine thresholds per cut (see
  :meth:`~fermi_sciencetools_shim.ltcube.grid.LivetimeGrid.cap_thresholds`), so one dot
  product per (block, row) tells whether the block is entirely outside the field of view or
  the zenith cut (skipped), entirely inside (no per-pixel cut test) or undecided;
* rows are processed in tiles of :data:`TILE` and, within a tile, block after block: the
  block's accumulator cells (64 pixels x nbins x 2 float32) stay in L1 cache and the tile's
  rows in L2;
* the bins of a block are computed first in a loop without stores to the accumulator (it is
  vectorised), then added; ``BLOCK`` is a compile-time constant and the pixel arrays are
  sliced per block so that the compiler knows the indices are non-negative (no wraparound
  test, contiguous vector loads);
* exposure and weighted exposure of a cell are neighbours in memory and are updated by one
  two-lane operation (:func:`_add_pair`: float32 pair -> float64 pair, add, -> float32 pair),
  which halves the float conversions that dominate the scattered additions. Each lane is
  rounded exactly as the scalar ``float32 += float64`` would be;
* the kernel releases the GIL and takes the list of blocks to process: callers run disjoint
  block lists in threads (each block owns its accumulator cells, so there are no races).

Every counted pixel satisfies the per-pixel conditions, and each cell receives its rows in
row order with ``float32 += float64`` (like the ScienceTools' ``CosineBinner``), so the result
equals the brute-force sum of :func:`fermi_sciencetools_shim.ltcube._reference.accumulate_livetime`
exactly.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba.core import types
from numba.core.errors import TypingError
from numba.extending import intrinsic

from fermi_sciencetools_shim.jit import njit

#: Pixels per block (consecutive NESTED pixels); the grid pads its pixel arrays to a multiple.
BLOCK = 64
#: Rows per tile.
TILE = 4096


@intrinsic
def _add_pair(typingctx, cells, flat, a, b):  # pragma: no cover - compiled
    """``cells.flat[flat] += a; cells.flat[flat + 1] += b`` for a C-contiguous float32 array.

    The two float32 values are loaded together, widened to float64, added to ``(a, b)`` and
    rounded back to float32: per lane the same IEEE operations as ``float32 += float64``.
    No bounds check: the caller guarantees ``flat + 1 < cells.size``.
    """
    if not (isinstance(cells, types.Array) and cells.dtype == types.float32 and cells.layout == "C"):
        raise TypingError("_add_pair needs a C-contiguous float32 array")
    sig = types.void(cells, types.int64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        cells_v, flat_v, a_v, b_v = args
        data = context.make_array(signature.args[0])(context, builder, cells_v).data
        pair32 = ir.VectorType(ir.FloatType(), 2)
        pair64 = ir.VectorType(ir.DoubleType(), 2)
        ptr = builder.bitcast(builder.gep(data, [flat_v]), pair32.as_pointer())
        old = builder.fpext(builder.load(ptr, align=4), pair64)
        add = builder.insert_element(ir.Constant(pair64, ir.Undefined), a_v, ir.Constant(ir.IntType(32), 0))
        add = builder.insert_element(add, b_v, ir.Constant(ir.IntType(32), 1))
        builder.store(builder.fptrunc(builder.fadd(old, add), pair32), ptr, align=4)
        return context.get_dummy_value()

    return sig, codegen


@njit(nogil=True)
def accumulate_livetime(
    px,
    py,
    pz,
    block_x,
    block_y,
    block_z,
    thresholds,
    blocks,
    zx,
    zy,
    zz,
    ex,
    ey,
    ez,
    delta,
    wdelta,
    nbins,
    cos_zmax,
    cos_zmin,
    zenith_cut,
    acc,
):  # pragma: no cover - compiled
    """Add every row's livetime to the cells of the pixel blocks ``blocks`` of ``acc``.

    Parameters
    ----------
    px, py, pz : float64 (nblocks * BLOCK,)
        Unit vectors of the pixel centres (padding pixels repeat a real one).
    block_x, block_y, block_z : float64 (nblocks,)
        Unit centre vectors of the block caps.
    thresholds : float64 (nblocks, 3, 2)
        ``[k, j, 0]`` (all inside) and ``[k, j, 1]`` (all outside) cosine thresholds of block
        ``k`` for the cuts ``j`` = field of view (``p.z > 0``), ``p.zenith > cos_zmax`` and
        ``p.zenith > cos_zmin``.
    blocks : int64 (m,)
        Indices of the blocks to fill (callers split the blocks between threads).
    zx, zy, zz, ex, ey, ez : float64 (nrows,)
        Unit vectors of the LAT boresight and of the local zenith per row.
    delta, wdelta : float64 (nrows,)
        Livetime weight of the row and its livetime-fraction-weighted version.
    nbins : int
        Number of sqrt(1 - cos theta) bins.
    cos_zmax, cos_zmin : float
        Zenith cut limits; used only when ``zenith_cut`` is true (``cos_zmin`` only when < 1).
    acc : float32 (nblocks * BLOCK, nbins, 2), C-contiguous
        Accumulator (``[..., 0]`` exposure, ``[..., 1]`` weighted exposure), updated in place
        and returned.
    """
    nrows = delta.shape[0]
    fn = float(nbins)
    last = nbins - 1
    stride = 2 * nbins  # acc elements per pixel
    use_zmin = zenith_cut and cos_zmin < 1.0
    bins = np.empty(BLOCK, np.int64)
    for r0 in range(0, nrows, TILE):
        r1 = min(r0 + TILE, nrows)
        for k in blocks:
            p0 = k * BLOCK
            qx = px[p0 : p0 + BLOCK]
            qy = py[p0 : p0 + BLOCK]
            qz = pz[p0 : p0 + BLOCK]
            cx = block_x[k]
            cy = block_y[k]
            cz = block_z[k]
            fov_in = thresholds[k, 0, 0]
            fov_out = thresholds[k, 0, 1]
            zmax_in = thresholds[k, 1, 0]
            zmax_out = thresholds[k, 1, 1]
            zmin_in = thresholds[k, 2, 0]
            zmin_out = thresholds[k, 2, 1]
            for r in range(r0, r1):
                d = delta[r]
                if d <= 0.0:
                    continue
                vx = zx[r]
                vy = zy[r]
                vz = zz[r]
                c0 = cx * vx + cy * vy + cz * vz
                if c0 <= fov_out:
                    continue
                check_fov = c0 <= fov_in
                check_zen = False
                if zenith_cut:
                    e0 = cx * ex[r] + cy * ey[r] + cz * ez[r]
                    if e0 <= zmax_out:
                        continue
                    check_zen = e0 <= zmax_in
                    if use_zmin:
                        if e0 > zmin_in:
                            continue  # every pixel has p.zenith >= cos_zmin
                        if e0 > zmin_out:
                            check_zen = True
                wd = wdelta[r]
                if check_fov or check_zen:
                    wx = ex[r]
                    wy = ey[r]
                    wz = ez[r]
                    for i in range(BLOCK):
                        c = qx[i] * vx + qy[i] * vy + qz[i] * vz
                        q = 1.0 - c
                        if q < 0.0:
                            q = 0.0
                        b = min(int(math.sqrt(q) * fn), last)
                        if c <= 0.0:
                            b = -1
                        if check_zen:
                            cz_p = qx[i] * wx + qy[i] * wy + qz[i] * wz
                            if cz_p <= cos_zmax or (use_zmin and cz_p >= cos_zmin):
                                b = -1
                        bins[i] = b
                    for i in range(BLOCK):
                        b = bins[i]
                        if b >= 0:
                            _add_pair(acc, (p0 + i) * stride + 2 * b, d, wd)
                else:
                    for i in range(BLOCK):
                        q = 1.0 - (qx[i] * vx + qy[i] * vy + qz[i] * vz)
                        if q < 0.0:
                            q = 0.0
                        bins[i] = min(int(math.sqrt(q) * fn), last)
                    for i in range(BLOCK):
                        _add_pair(acc, (p0 + i) * stride + 2 * bins[i], d, wd)
    return acc


@njit(nogil=True)
def accumulate_livetime_phi(
    px,
    py,
    pz,
    block_x,
    block_y,
    block_z,
    thresholds,
    blocks,
    frames,
    ex,
    ey,
    ez,
    delta,
    wdelta,
    nbins,
    phibins,
    cos_zmax,
    cos_zmin,
    zenith_cut,
    acc,
):  # pragma: no cover - compiled
    """Like :func:`accumulate_livetime`, with ``phibins > 0`` azimuth bins (``CosineBinner`` with phi).

    ``frames`` (nrows, 3, 3) holds per row the instrument axes ``x, y, z`` (unit vectors,
    orthonormalised as CLHEP's ``HepRotation`` does from S/C z and x). For a pixel ``p``,
    ``cos(theta) = p . z`` and ``phi = atan2(p . y, p . x)``; the folded azimuth
    ``f = 1 - |pi/4 - mod(phi, pi/2)| / (pi/4)`` gives the phi bin ``int(f * phibins)``
    (the value ``f = 1`` goes to the last bin). A counted pixel adds the row's livetime to
    its theta cell ``[p, ci]`` (the sum over phi) and to ``[p, (phi_bin + 1) * nbins + ci]``;
    ``acc`` has shape (npix_padded, nbins * (1 + phibins), 2). The block caps use the
    instrument z axis; the result equals :func:`..._reference.accumulate_livetime_phi`.
    """
    nrows = delta.shape[0]
    fn = float(nbins)
    last = nbins - 1
    ncells = nbins * (1 + phibins)
    stride = 2 * ncells
    use_zmin = zenith_cut and cos_zmin < 1.0
    quarter = math.pi / 4.0
    half = math.pi / 2.0
    two_pi = 2.0 * math.pi
    for r0 in range(0, nrows, TILE):
        r1 = min(r0 + TILE, nrows)
        for k in blocks:
            p0 = k * BLOCK
            cx = block_x[k]
            cy = block_y[k]
            cz = block_z[k]
            for r in range(r0, r1):
                d = delta[r]
                if d <= 0.0:
                    continue
                vx = frames[r, 2, 0]
                vy = frames[r, 2, 1]
                vz = frames[r, 2, 2]
                if cx * vx + cy * vy + cz * vz <= thresholds[k, 0, 1]:
                    continue
                if zenith_cut:
                    e0 = cx * ex[r] + cy * ey[r] + cz * ez[r]
                    if e0 <= thresholds[k, 1, 1]:
                        continue
                    if use_zmin and e0 > thresholds[k, 2, 0]:
                        continue
                wd = wdelta[r]
                ax = frames[r, 0, 0]
                ay = frames[r, 0, 1]
                az = frames[r, 0, 2]
                bx = frames[r, 1, 0]
                by = frames[r, 1, 1]
                bz = frames[r, 1, 2]
                for i in range(p0, p0 + BLOCK):
                    c = px[i] * vx + py[i] * vy + pz[i] * vz
                    if c <= 0.0:
                        continue
                    if zenith_cut:
                        cz_p = px[i] * ex[r] + py[i] * ey[r] + pz[i] * ez[r]
                        if cz_p <= cos_zmax or (use_zmin and cz_p >= cos_zmin):
                            continue
                    q = 1.0 - c
                    if q < 0.0:
                        q = 0.0
                    ci = min(int(math.sqrt(q) * fn), last)
                    lx = px[i] * ax + py[i] * ay + pz[i] * az
                    ly = px[i] * bx + py[i] * by + pz[i] * bz
                    phi = 0.0 if (lx == 0.0 and ly == 0.0) else math.atan2(ly, lx)
                    if phi < 0.0:
                        phi += two_pi
                    folded = 1.0 - abs(quarter - np.fmod(phi, half)) / quarter
                    pi = min(int(folded * phibins), phibins - 1)
                    _add_pair(acc, i * stride + 2 * ci, d, wd)
                    _add_pair(acc, i * stride + 2 * ((pi + 1) * nbins + ci), d, wd)
    return acc
