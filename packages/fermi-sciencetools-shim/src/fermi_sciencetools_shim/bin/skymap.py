"""Sky pixelisation of CMAP/CCUBE: the WCS grid and the event-to-pixel binning.

The grid follows evtbin: ``CRPIX = (n + 1) / 2`` on each axis, ``CRVAL = (xref, yref)``,
``CDELT1 = -binsz``, ``CDELT2 = +binsz``, ``CROTA2 = axisrot``. Events are projected with
wcslib (through astropy) to 1-based pixel coordinates, which are binned with linear binners on
``[0.5, n + 0.5)`` of step 1. For Galactic maps RA/DEC are rotated with an explicit matrix
(:mod:`fermi_sciencetools_shim.bin.galactic`), never read from the FT1 ``L``/``B`` columns.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from astropy.wcs import WCS

from fermi_sciencetools_shim.bin import _kernels
from fermi_sciencetools_shim.bin.binners import Binner
from fermi_sciencetools_shim.bin.galactic import equatorial_to_galactic
from fermi_sciencetools_shim.errors import ParameterError


@dataclass(frozen=True)
class SkyGrid:
    """A CMAP/CCUBE pixel grid.

    Attributes
    ----------
    nxpix, nypix
        Number of pixels along longitude and latitude.
    binsz
        Pixel size in degrees.
    coordsys
        ``"CEL"`` (RA/DEC) or ``"GAL"`` (l/b).
    xref, yref
        Map centre in degrees in ``coordsys``.
    proj
        wcslib projection code (``"AIT"``, ``"CAR"``, ``"TAN"`` ...).
    axisrot
        Rotation of the image axes in degrees (``CROTA2``).
    """

    nxpix: int
    nypix: int
    binsz: float
    coordsys: str
    xref: float
    yref: float
    proj: str = "AIT"
    axisrot: float = 0.0

    def __post_init__(self) -> None:
        for name in ("nxpix", "nypix"):
            value = getattr(self, name)
            if value is None or value < 1:
                raise ParameterError(name, f"must be a positive integer (got {value!r})")
        if self.binsz is None or not self.binsz > 0:
            raise ParameterError("binsz", f"must be positive (got {self.binsz!r})")
        for name in ("xref", "yref"):
            if getattr(self, name) is None:
                raise ParameterError(name, "is required for a sky map")
        if self.coordsys.upper() not in ("CEL", "GAL"):
            raise ParameterError("coordsys", f"must be CEL or GAL (got {self.coordsys!r})")
        proj = self.proj.strip().upper()
        if not (1 <= len(proj) <= 3 and proj.isalpha()):
            raise ParameterError(
                "proj", f"must be a wcslib projection code of up to 3 letters (got {self.proj!r})"
            )
        object.__setattr__(self, "proj", proj)
        object.__setattr__(self, "coordsys", self.coordsys.upper())
        try:
            self.wcs()
        except Exception as exc:  # wcslib rejects unknown projection codes
            raise ParameterError("proj", f"{proj!r} is not a projection wcslib knows ({exc})") from None

    @property
    def ctypes(self) -> tuple[str, str]:
        """``CTYPE1``, ``CTYPE2``: the axis name right-padded with '-' then the projection."""
        names = ("RA", "DEC") if self.coordsys == "CEL" else ("GLON", "GLAT")
        return tuple(n.ljust(8 - len(self.proj), "-") + self.proj for n in names)  # type: ignore[return-value]

    @property
    def crpix(self) -> tuple[float, float]:
        """Reference pixel (1-based), the map centre."""
        return (self.nxpix + 1) / 2.0, (self.nypix + 1) / 2.0

    def wcs(self) -> WCS:
        """Return the celestial astropy WCS of the grid."""
        w = WCS(naxis=2)
        w.wcs.ctype = list(self.ctypes)
        w.wcs.crpix = list(self.crpix)
        w.wcs.crval = [self.xref, self.yref]
        w.wcs.cdelt = [-self.binsz, self.binsz]
        w.wcs.crota = [0.0, self.axisrot]
        w.wcs.set()
        return w

    def pixel_coordinates(
        self, ra: np.ndarray, dec: np.ndarray, galrot: str = "current"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return 1-based pixel coordinates ``(x, y)`` of directions given in RA/DEC degrees.

        Directions the projection cannot represent get NaN.
        """
        lon, lat = np.asarray(ra, dtype=np.float64), np.asarray(dec, dtype=np.float64)
        if self.coordsys == "GAL":
            lon, lat = equatorial_to_galactic(lon, lat, galrot)
        if lon.size == 0:
            return np.empty(0), np.empty(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            x, y = self.wcs().wcs_world2pix(lon, lat, 1)
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def pixel_indices(
        self, ra: np.ndarray, dec: np.ndarray, galrot: str = "current"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return 0-based pixel indices ``(ix, iy)``, -1 for directions outside the map."""
        x, y = self.pixel_coordinates(ra, dec, galrot)
        x = np.where(np.isfinite(x), x, -1.0)
        y = np.where(np.isfinite(y), y, -1.0)
        ix = Binner.linear(0.5, self.nxpix + 0.5, 1.0).index(x)
        iy = Binner.linear(0.5, self.nypix + 0.5, 1.0).index(y)
        return ix, iy


def count_cube(
    grid: SkyGrid,
    ra: np.ndarray,
    dec: np.ndarray,
    energy: np.ndarray | None = None,
    ebins: Binner | None = None,
    galrot: str = "current",
) -> np.ndarray:
    """Return the int32 counts: shape ``(nebins, nypix, nxpix)`` with ``ebins``, else ``(nypix, nxpix)``."""
    ix, iy = grid.pixel_indices(ra, dec, galrot)
    if ebins is None:
        iz = np.zeros(ix.size, dtype=np.int64)
        cube = _kernels.count_3d(ix, iy, iz, grid.nxpix, grid.nypix, 1)[0]
    else:
        iz = ebins.index(np.asarray(energy, dtype=np.float64))
        cube = _kernels.count_3d(ix, iy, iz, grid.nxpix, grid.nypix, ebins.nbins)
    return cube.astype(np.int32)
