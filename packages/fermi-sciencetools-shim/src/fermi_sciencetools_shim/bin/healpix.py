"""HEALPix pixelisation of gtbin ``algorithm=HEALPIX`` (evtbin ``HealpixBinner``/``HealpixMap``).

* ``nside = 2**hpx_order`` (order 0..12), ``hpx_ordering_scheme`` RING or NESTED;
  directions are RA/DEC for ``coordsys=CEL`` and the FT1 ``L``/``B`` columns for ``GAL``
  (as evtbin reads them; the CMAP/CCUBE rotation of :mod:`.galactic` is not used).
* Pixel numbers follow the Healpix C++ ``ang2pix`` of a ``pointing`` exactly
  (:func:`fermi_sciencetools_shim.bin._kernels.healpix_pixels`).
* ``hpx_region``: empty for the whole sky (``INDXSCHM = IMPLICIT``), ``DISK(lon,lat,radius)``
  for the pixels whose centre lies within ``radius`` degrees of ``(lon, lat)`` (in
  ``coordsys``), or ``DISK_INC(lon,lat,radius,fact)`` for every pixel overlapping the disc
  (Healpix ``query_disc_inclusive`` with oversampling ``fact``; needs healpy, the Python
  interface of the Healpix C++ library). The region numbers are kept as float32, as the
  ScienceTools store them. A partial map has ``INDXSCHM = EXPLICIT``, a ``PIX`` column of
  the sorted global pixel numbers and ``HPX_REG`` = the region string.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
from astropy import units as u
from astropy_healpix import HEALPix

from fermi_sciencetools_shim.bin import _kernels
from fermi_sciencetools_shim.errors import ParameterError

MAX_ORDER = 12
_REGION = re.compile(r"^\s*(DISK_INC|DISK)\s*\(([^()]*)\)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Region:
    """A ``DISK`` or ``DISK_INC`` region (centre and radius in degrees, as float32 values)."""

    kind: str
    lon: float
    lat: float
    radius: float
    fact: int
    text: str

    @classmethod
    def parse(cls, text: str) -> Region:
        """Parse ``DISK(lon,lat,radius)`` or ``DISK_INC(lon,lat,radius,fact)``.

        Raises
        ------
        ParameterError
            Naming ``hpx_region`` for any other text.
        """
        m = _REGION.match(text)
        if m is None:
            raise ParameterError(
                "hpx_region", f"{text!r} is not DISK(lon,lat,radius) or DISK_INC(lon,lat,radius,fact)"
            )
        kind = m.group(1).upper()
        fields = [f.strip() for f in m.group(2).split(",")]
        need = 4 if kind == "DISK_INC" else 3
        if len(fields) != need:
            raise ParameterError("hpx_region", f"{kind} takes {need} numbers, got {len(fields)} in {text!r}")
        try:
            numbers = [float(f) for f in fields]
        except ValueError:
            raise ParameterError("hpx_region", f"{text!r} contains something that is not a number") from None
        lon, lat, radius = (float(np.float32(v)) for v in numbers[:3])
        if not -90.0 <= lat <= 90.0:
            raise ParameterError("hpx_region", f"latitude {numbers[1]!r} is outside [-90, 90] in {text!r}")
        if not radius > 0:
            raise ParameterError("hpx_region", f"radius {numbers[2]!r} must be positive in {text!r}")
        fact = int(numbers[3]) if kind == "DISK_INC" else 0
        if kind == "DISK_INC" and (fact < 1 or fact & (fact - 1)):
            raise ParameterError("hpx_region", f"DISK_INC factor {numbers[3]!r} must be a power of two")
        return cls(kind, lon, lat, radius, fact, text.strip())


def disk_pixels(region: Region, order: int, nest: bool) -> np.ndarray:
    """Return the sorted int64 global pixel numbers of ``region`` at ``nside = 2**order``."""
    nside = 1 << order
    if region.kind == "DISK_INC":
        try:
            import healpy
        except ImportError:  # pragma: no cover - depends on the environment
            raise ParameterError(
                "hpx_region", "DISK_INC regions need healpy (pip install healpy); use DISK(lon,lat,radius)"
            ) from None
        vec = healpy.ang2vec(region.lon, region.lat, lonlat=True)
        pix = healpy.query_disc(
            nside, vec, math.radians(region.radius), inclusive=True, fact=region.fact, nest=nest
        )
        return np.sort(np.asarray(pix, dtype=np.int64))
    if region.radius >= 180.0:
        return np.arange(12 * nside * nside, dtype=np.int64)
    grid = HEALPix(nside=nside, order="nested" if nest else "ring")
    # candidates: every pixel touching a slightly larger cone, then the exact centre test
    margin = 2.0 * grid.pixel_resolution.to_value(u.deg)
    candidates = grid.cone_search_lonlat(
        region.lon * u.deg, region.lat * u.deg, min(region.radius + margin, 180.0) * u.deg
    )
    candidates = np.unique(np.asarray(candidates, dtype=np.int64))
    lon, lat = grid.healpix_to_lonlat(candidates)
    inside = _cos_distance(region, lon.to_value(u.rad), lat.to_value(u.rad)) >= math.cos(
        math.radians(region.radius)
    )
    return candidates[inside]


def _cos_distance(region: Region, lon_rad: np.ndarray, lat_rad: np.ndarray) -> np.ndarray:
    """Cosine of the angle between the region centre and each direction (Healpix ``cosdist_zphi``)."""
    z0 = math.sin(math.radians(region.lat))
    phi0 = math.radians(region.lon)
    z = np.sin(lat_rad)
    return z0 * z + np.cos(phi0 - lon_rad) * np.sqrt(np.maximum((1.0 - z0 * z0) * (1.0 - z * z), 0.0))


@dataclass(frozen=True)
class HealpixGrid:
    """The pixels of a HEALPIX counts map.

    Attributes
    ----------
    order
        HEALPix order (``nside = 2**order``).
    nest
        NESTED numbering (else RING).
    coordsys
        ``"CEL"`` or ``"GAL"``.
    region
        The partial-sky region, or None for the whole sky.
    pixels
        Sorted global pixel numbers of a partial map (None for the whole sky).
    """

    order: int
    nest: bool
    coordsys: str
    region: Region | None
    pixels: np.ndarray | None

    @classmethod
    def build(cls, order: int, scheme: str, coordsys: str, region: str | None) -> HealpixGrid:
        """Check the gtbin HEALPix parameters and return the grid.

        Raises
        ------
        ParameterError
            For an order outside 0..12, an unknown scheme or coordinate system, or a bad region.
        """
        if order is None or not 0 <= order <= MAX_ORDER:
            raise ParameterError("hpx_order", f"must be an integer in 0..{MAX_ORDER} (got {order!r})")
        name = str(scheme).strip().upper()
        if name not in ("RING", "NESTED", "NEST"):
            raise ParameterError("hpx_ordering_scheme", f"must be RING or NESTED (got {scheme!r})")
        system = str(coordsys).strip().upper()
        if system not in ("CEL", "GAL"):
            raise ParameterError("coordsys", f"must be CEL or GAL (got {coordsys!r})")
        nest = name != "RING"
        text = "" if region is None else str(region).strip()
        if text.upper() in ("", "NONE", "INDEF"):
            return cls(order, nest, system, None, None)
        parsed = Region.parse(text)
        return cls(order, nest, system, parsed, disk_pixels(parsed, order, nest))

    @property
    def nside(self) -> int:
        """``2**order``."""
        return 1 << self.order

    @property
    def npix_sky(self) -> int:
        """Pixels of the whole sky, ``12 nside^2``."""
        return 12 * self.nside * self.nside

    @property
    def nbins(self) -> int:
        """Rows of the SKYMAP table: every sky pixel, or the region's pixels."""
        return self.npix_sky if self.pixels is None else int(self.pixels.size)

    def index(self, lon_deg: np.ndarray, lat_deg: np.ndarray) -> np.ndarray:
        """Return the row (int64) of each direction in the map, -1 outside the region."""
        lon = np.ascontiguousarray(lon_deg, dtype=np.float64)
        lat = np.ascontiguousarray(lat_deg, dtype=np.float64)
        pix = _kernels.healpix_pixels(lon, lat, self.order, self.nest)
        if self.pixels is None:
            return pix
        return _kernels.lookup_index(pix, self.pixels)

    def keywords(self) -> list[tuple[str, object, str]]:
        """The SKYMAP keywords of ``HealpixBinner::setKeywords`` (after the template ones)."""
        cards: list[tuple[str, object, str]] = [("TELESCOP", "GLAST", ""), ("INSTRUME", "LAT", "")]
        if self.coordsys == "GAL":
            cards.append(("COORDSYS", "GAL", ""))
        else:
            cards += [("EQUINOX", 2000.0, "Equinox of RA & DEC specifications"), ("COORDSYS", "CEL", "")]
        cards += [
            ("ORDERING", "NESTED" if self.nest else "RING", ""),
            ("PIXTYPE", "HEALPIX", ""),
            ("ORDER", self.order, ""),
            ("NSIDE", self.nside, ""),
            ("FIRSTPIX", 0, ""),
            ("LASTPIX", self.npix_sky - 1, ""),
            ("INDXSCHM", "IMPLICIT" if self.region is None else "EXPLICIT", ""),
        ]
        if self.region is not None:
            cards.append(("HPX_REG", self.region.text, ""))
        return cards
