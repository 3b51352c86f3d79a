"""HEALPix grid of gtltcube: NESTED, equatorial, pixel centres and compact pixel blocks.

Pixel centres come from astropy-healpix. The blocks (groups of consecutive NESTED pixels,
i.e. the children of one coarser pixel) carry a bounding cap that lets the livetime kernel
skip whole blocks below the LAT horizon or outside a zenith cut.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy import units as u
from astropy_healpix import HEALPix

from fermi_sciencetools_shim.errors import ParameterError

FULL_SKY_DEG2 = 41252.0
MAX_NSIDE = 512


def nside_for_binsz(binsz: float) -> int:
    """Return the smallest power of two with ``12 nside^2 >= 41252 / binsz^2``, capped at 512."""
    if binsz is None or not binsz > 0:
        raise ParameterError("binsz", f"must be positive (got {binsz!r})")
    nside = 1
    while 12 * nside * nside < FULL_SKY_DEG2 / (binsz * binsz) and nside < MAX_NSIDE:
        nside *= 2
    return nside


def unit_vectors(ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
    """Return (n, 3) float64 unit vectors for RA/DEC in degrees."""
    ra = np.radians(np.asarray(ra_deg, dtype=np.float64))
    dec = np.radians(np.asarray(dec_deg, dtype=np.float64))
    cd = np.cos(dec)
    return np.ascontiguousarray(np.stack([cd * np.cos(ra), cd * np.sin(ra), np.sin(dec)], axis=-1))


@dataclass(frozen=True)
class LivetimeGrid:
    """Pixel centres (RA/DEC degrees and unit vectors) and the block caps of a NESTED grid."""

    nside: int
    ra: np.ndarray
    dec: np.ndarray
    xyz: np.ndarray
    block_start: np.ndarray
    block_xyz: np.ndarray
    block_cos_r: np.ndarray
    block_sin_r: np.ndarray

    @property
    def npix(self) -> int:
        """Number of pixels, ``12 nside^2``."""
        return int(self.ra.size)

    @classmethod
    def build(cls, nside: int, block_pixels: int = 64) -> LivetimeGrid:
        """Return the grid for ``nside`` with blocks of ``block_pixels`` (a power of 4) pixels."""
        hp = HEALPix(nside=nside, order="nested")
        lon, lat = hp.healpix_to_lonlat(np.arange(hp.npix))
        ra = lon.to_value(u.deg)
        dec = lat.to_value(u.deg)
        xyz = unit_vectors(ra, dec)
        size = min(block_pixels, hp.npix // 12)
        nblocks = hp.npix // size
        members = xyz.reshape(nblocks, size, 3)
        centre = members.mean(axis=1)
        centre /= np.linalg.norm(centre, axis=1)[:, None]
        cos_r = np.clip(np.einsum("bij,bj->bi", members, centre).min(axis=1), -1.0, 1.0)
        return cls(
            nside=nside,
            ra=ra,
            dec=dec,
            xyz=xyz,
            block_start=np.arange(0, hp.npix + 1, size, dtype=np.int64),
            block_xyz=np.ascontiguousarray(centre),
            block_cos_r=cos_r,
            block_sin_r=np.sqrt(1.0 - cos_r * cos_r),
        )
