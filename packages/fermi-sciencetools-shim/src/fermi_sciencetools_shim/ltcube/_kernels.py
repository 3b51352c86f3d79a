"""Numba kernel of gtltcube: accumulate FT2 livetime into (pixel, cos-theta bin) cells.

For every spacecraft row with weight ``delta`` > 0 and every HEALPix pixel centre ``p``
with ``cos(theta) = p . z_sc > 0`` (and, with a zenith cut, ``p . zenith > cos(zmax)`` and
``p . zenith < cos(zmin)`` when zmin > 0) the kernel adds ``delta`` to
``exposure[bin, p]`` and ``wdelta`` to ``weighted[bin, p]`` with
``bin = min(int(sqrt(1 - cos(theta)) * nbins), nbins - 1)``.

Speed: pixels are handled in blocks (consecutive NESTED pixels, compact on the sky) with a
bounding cap (centre, cos and sin of the radius). A block entirely below the LAT horizon or
outside the zenith cut is skipped; a block entirely inside needs no per-pixel cut test.
The caps are only a shortcut: every counted pixel satisfies the per-pixel conditions, so the
result equals the brute-force sum (``_reference.accumulate_livetime``) with the same row and
pixel order. Accumulation is in float32 like the ScienceTools' ``CosineBinner``.
"""

from __future__ import annotations

import math

from fermi_sciencetools_shim._numba import njit

# Margin (in cosine) below which a cap test is treated as undecided and pixels are tested.
_EPS = 1e-9


@njit
def _cap_state(cx, cy, cz, cos_r, sin_r, vx, vy, vz, cos_cut):  # pragma: no cover - compiled
    """Return 1 if the whole cap has p.v > cos_cut, -1 if no pixel can, 0 if undecided."""
    c0 = cx * vx + cy * vy + cz * vz
    if c0 > 1.0:
        c0 = 1.0
    elif c0 < -1.0:
        c0 = -1.0
    s0 = math.sqrt(1.0 - c0 * c0)
    # largest and smallest cosine over the cap: cos(theta0 -/+ r), clamped at the poles
    c_hi = c0 * cos_r + s0 * sin_r
    if c0 >= cos_r:
        c_hi = 1.0
    c_lo = c0 * cos_r - s0 * sin_r
    if c0 <= -cos_r:
        c_lo = -1.0
    if c_lo > cos_cut + _EPS:
        return 1
    if c_hi <= cos_cut - _EPS:
        return -1
    return 0


@njit
def accumulate_livetime(
    px,
    py,
    pz,
    block_start,
    block_xyz,
    block_cos_r,
    block_sin_r,
    scz,
    zenith,
    delta,
    wdelta,
    nbins,
    cos_zmax,
    cos_zmin,
    zenith_cut,
    exposure,
    weighted,
):  # pragma: no cover - compiled
    """Add every row's livetime to ``exposure`` and ``weighted`` (float32, shape (npix, nbins)).

    Parameters
    ----------
    px, py, pz : float64 (npix,)
        Unit vectors of the pixel centres.
    block_start : int64 (nblocks + 1,)
        Pixel ranges of the blocks, ``block_start[k]:block_start[k + 1]``.
    block_xyz : float64 (nblocks, 3); block_cos_r, block_sin_r : float64 (nblocks,)
        Bounding cap of each block (unit centre vector, cos and sin of its radius).
    scz, zenith : float64 (nrows, 3)
        Unit vectors of the LAT boresight and of the local zenith per row.
    delta, wdelta : float64 (nrows,)
        Livetime weight of the row and its livetime-fraction-weighted version.
    nbins : int
        Number of sqrt(1 - cos theta) bins.
    cos_zmax, cos_zmin : float
        Zenith cut limits; used only when ``zenith_cut`` is true (``cos_zmin`` only when < 1).
    exposure, weighted : float32 (nbins, npix)
        Accumulators, updated in place and returned. Bin-major so that the pixels of a
        block, which mostly share a bin, are written to neighbouring memory.
    """
    nblocks = block_start.shape[0] - 1
    nrows = delta.shape[0]
    fn = float(nbins)
    use_zmin = zenith_cut and cos_zmin < 1.0
    for r in range(nrows):
        d = delta[r]
        if d <= 0.0:
            continue
        wd = wdelta[r]
        zx = scz[r, 0]
        zy = scz[r, 1]
        zz = scz[r, 2]
        ex = zenith[r, 0]
        ey = zenith[r, 1]
        ez = zenith[r, 2]
        for k in range(nblocks):
            cx = block_xyz[k, 0]
            cy = block_xyz[k, 1]
            cz = block_xyz[k, 2]
            cr = block_cos_r[k]
            sr = block_sin_r[k]
            fov = _cap_state(cx, cy, cz, cr, sr, zx, zy, zz, 0.0)
            if fov < 0:
                continue
            zen = 1
            if zenith_cut:
                zen = _cap_state(cx, cy, cz, cr, sr, ex, ey, ez, cos_zmax)
                if zen < 0:
                    continue
                if use_zmin:
                    # pixels must have p.zenith < cos_zmin, i.e. NOT (p.zenith >= cos_zmin)
                    inner = _cap_state(cx, cy, cz, cr, sr, ex, ey, ez, cos_zmin)
                    if inner > 0:
                        continue
                    if inner == 0:
                        zen = 0
            check_fov = fov == 0
            check_zen = zen == 0
            for p in range(block_start[k], block_start[k + 1]):
                c = px[p] * zx + py[p] * zy + pz[p] * zz
                if check_fov and c <= 0.0:
                    continue
                if check_zen:
                    cz_p = px[p] * ex + py[p] * ey + pz[p] * ez
                    if cz_p <= cos_zmax:
                        continue
                    if use_zmin and cz_p >= cos_zmin:
                        continue
                b = int(math.sqrt(1.0 - c) * fn)
                if b >= nbins:
                    b = nbins - 1
                exposure[b, p] += d
                weighted[b, p] += wd
    return exposure, weighted
