"""HEALPix grid of gtltcube: NESTED, equatorial, pixel centres and compact pixel blocks.

Pixel centres come from astropy-healpix. The blocks (groups of consecutive NESTED pixels,
i.e. the children of one coarser pixel) carry a bounding cap that lets the livetime kernel
skip whole blocks below the LAT horizon or outside a zenith cut. The kernel works on blocks
of a fixed size: when the pixel count is not a multiple of it (NSIDE 1 and 2), the last
block is padded with copies of the last pixel, whose cells are dropped afterwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from astropy import units as u
from astropy_healpix import HEALPix

from fermi_sciencetools_shim.errors import ParameterError

FULL_SKY_DEG2 = 41252.0
MAX_NSIDE = 512
# Margin (in cosine and in radians) that keeps the cap shortcuts conservative: a block is
# declared entirely inside or outside a cut only with this much room to spare.
_CAP_EPS = 1e-9


def nside_for_binsz(binsz: float) -> int:
    """Return the smallest power of two with ``12 nside^2 >= 41252 / binsz^2``, capped at 512."""
    if binsz is None or not binsz > 0:
        raise ParameterError("binsz", f"must be positive (got {binsz!r})")
    nside = 1
    while 12 * nside * nside < FULL_SKY_DEG2 / (binsz * binsz) and nside < MAX_NSIDE:
        nside *= 2
    return nside


def unit_vector_components(
    ra_deg: np.ndarray, dec_deg: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the float64 ``(x, y, z)`` components of the unit vectors for RA/DEC in degrees."""
    ra = np.radians(np.asarray(ra_deg, dtype=np.float64))
    dec = np.radians(np.asarray(dec_deg, dtype=np.float64))
    cd = np.cos(dec)
    return cd * np.cos(ra), cd * np.sin(ra), np.sin(dec)


def unit_vectors(ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
    """Return (n, 3) float64 unit vectors for RA/DEC in degrees."""
    return np.ascontiguousarray(np.stack(unit_vector_components(ra_deg, dec_deg), axis=-1))


@dataclass(frozen=True)
class LivetimeGrid:
    """Pixel centres (RA/DEC degrees and unit vectors) and the block caps of a NESTED grid.

    ``xyz`` has ``npix`` rows; ``padded_xyz`` has ``nblocks * block_size`` rows (the real
    pixels, then copies of the last one), block ``k`` being rows ``k * block_size`` onwards.
    """

    nside: int
    ra: np.ndarray
    dec: np.ndarray
    xyz: np.ndarray
    block_size: int
    padded_xyz: np.ndarray
    block_xyz: np.ndarray
    block_cos_r: np.ndarray

    @property
    def npix(self) -> int:
        """Number of pixels, ``12 nside^2``."""
        return int(self.ra.size)

    @property
    def nblocks(self) -> int:
        """Number of pixel blocks."""
        return int(self.block_xyz.shape[0])

    @classmethod
    def build(cls, nside: int, block_size: int = 64) -> LivetimeGrid:
        """Return the grid for ``nside`` with blocks of ``block_size`` consecutive NESTED pixels."""
        if nside < 1 or nside & (nside - 1):
            raise ParameterError("nside", f"must be a power of two (got {nside})")
        hp = HEALPix(nside=nside, order="nested")
        lon, lat = hp.healpix_to_lonlat(np.arange(hp.npix))
        ra = lon.to_value(u.deg)
        dec = lat.to_value(u.deg)
        xyz = unit_vectors(ra, dec)
        nblocks = -(-hp.npix // block_size)
        padded = np.concatenate([xyz, np.repeat(xyz[-1:], nblocks * block_size - hp.npix, axis=0)])
        members = padded.reshape(nblocks, block_size, 3)
        centre = members.mean(axis=1)
        norm = np.linalg.norm(centre, axis=1)
        # a block spread over the whole sphere can average to ~0: any unit vector does then
        centre = np.where(norm[:, None] > 1e-6, centre / np.maximum(norm, 1e-300)[:, None], [0.0, 0.0, 1.0])
        cos_r = np.clip(np.einsum("bij,bj->bi", members, centre).min(axis=1), -1.0, 1.0)
        return cls(
            nside=nside,
            ra=ra,
            dec=dec,
            xyz=xyz,
            block_size=block_size,
            padded_xyz=np.ascontiguousarray(padded),
            block_xyz=np.ascontiguousarray(centre),
            block_cos_r=cos_r,
        )

    def cap_thresholds(self, cos_cut: float) -> tuple[np.ndarray, np.ndarray]:
        """Return per-block ``(inside, outside)`` thresholds on ``centre . v`` for the cut ``p . v > cos_cut``.

        With ``c0`` the cosine between a block centre and a direction ``v``: if
        ``c0 > inside[k]`` every pixel of block ``k`` has ``p . v > cos_cut``; if
        ``c0 <= outside[k]`` none has. A pixel at most ``r`` from the centre has
        ``angle(p, v)`` within ``angle(centre, v) -/+ r``, hence ``inside = cos(theta_cut - r)``
        and ``outside = cos(theta_cut + r)`` (never satisfiable, +/-2, when the angle leaves
        ``[0, pi]``), both moved by a margin so that rounding cannot make a shortcut wrong.
        """
        theta_cut = math.acos(min(max(cos_cut, -1.0), 1.0))
        r = np.arccos(self.block_cos_r) + _CAP_EPS
        lo, hi = theta_cut - r, theta_cut + r
        inside = np.where(lo > 0.0, np.cos(np.maximum(lo, 0.0)) + _CAP_EPS, 2.0)
        outside = np.where(hi < math.pi, np.cos(np.minimum(hi, math.pi)) - _CAP_EPS, -2.0)
        return inside, outside
