"""Fermi's orbit from a two-line element set (TLE), propagated with sgp4, as a ground track.

sgp4 gives positions in the TEME frame; astropy turns them into geodetic latitude, longitude
and height. Orbit figures (period, inclination, altitude) always come from the TLE in use: the
orbit decays (about 544 km in 2013, 531 km in 2022), so none is hard-coded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import ITRS, TEME, CartesianRepresentation
from astropy.time import Time
from sgp4.api import Satrec

from fermi_sciencetools_shim.time import met_to_time, utc_to_met

#: Fermi's NORAD catalog number.
FERMI_NORAD_ID = 33053

#: The most recent Fermi TLE known to this package (epoch 2026-06-26). Replace it with the
#: current one from flight dynamics when planning (``fermi-isoc plan --tle FILE``).
DEFAULT_TLE_LINES = (
    "1 33053U 08029A   26177.59189692  .00002598  00000+0  90722-4 0  9992",
    "2 33053  25.5805 139.1753 0008421  78.3295 281.8188 15.23982538997275",
)


class TleError(ValueError):
    """A TLE that cannot be used, with where it came from and why."""


def _checksum(line: str) -> int:
    total = sum(int(c) if c.isdigit() else (1 if c == "-" else 0) for c in line[:68])
    return total % 10


@dataclass(frozen=True)
class Tle:
    """A validated two-line element set.

    Use :func:`parse_tle` or :func:`read_tle` to build one.
    """

    line1: str
    line2: str
    name: str = "FERMI"
    source: str = "<built-in>"

    @property
    def satrec(self) -> Satrec:
        """The sgp4 satellite record."""
        return Satrec.twoline2rv(self.line1, self.line2)

    @property
    def norad_id(self) -> int:
        """NORAD catalog number."""
        return int(self.line1[2:7])

    @property
    def epoch_met(self) -> float:
        """Epoch of the elements, in MET seconds."""
        sat = self.satrec
        jd = sat.jdsatepoch + sat.jdsatepochF
        return float(utc_to_met(Time(jd, format="jd", scale="utc").isot))

    @property
    def inclination_deg(self) -> float:
        """Orbit inclination in degrees."""
        return float(np.degrees(self.satrec.inclo))

    @property
    def period_s(self) -> float:
        """Orbital period in seconds (from the mean motion)."""
        return float(2.0 * np.pi / self.satrec.no_kozai * 60.0)


def parse_tle(text: str, source: str = "<string>") -> Tle:
    """Parse and validate a TLE given as two lines (optionally preceded by a name line).

    Raises
    ------
    TleError
        Naming ``source``, the line and the reason (length, line number, checksum, catalog
        number mismatch, or elements sgp4 rejects).
    """
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    name = "FERMI"
    if len(lines) == 3:
        name = lines[0].removeprefix("0 ").strip()
        lines = lines[1:]
    if len(lines) != 2:
        raise TleError(f"{source}: expected 2 TLE lines (or a name line and 2), found {len(lines)}")
    for number, line in enumerate(lines, start=1):
        if len(line) != 69:
            raise TleError(f"{source}: line {number} has {len(line)} characters, a TLE line has 69")
        if not line.startswith(f"{number} "):
            raise TleError(f"{source}: line {number} must start with '{number} ', found {line[:2]!r}")
        if not line[68].isdigit() or int(line[68]) != _checksum(line):
            raise TleError(
                f"{source}: line {number} checksum is {line[68]!r}, the line sums to {_checksum(line)}"
            )
    if lines[0][2:7] != lines[1][2:7]:
        raise TleError(
            f"{source}: catalog numbers differ between line 1 ({lines[0][2:7]}) and line 2 ({lines[1][2:7]})"
        )
    tle = Tle(lines[0], lines[1], name=name, source=source)
    sat = tle.satrec
    if sat.error != 0:
        raise TleError(f"{source}: sgp4 rejects the elements (error code {sat.error})")
    return tle


def read_tle(path: str | Path) -> Tle:
    """Read and validate a TLE file (2 lines, or a name line and 2)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise TleError(f"{path}: cannot read TLE file: {exc}") from exc
    return parse_tle(text, source=str(path))


def default_tle() -> Tle:
    """Return the built-in Fermi TLE (see :data:`DEFAULT_TLE_LINES`)."""
    return parse_tle("\n".join(DEFAULT_TLE_LINES), source="fermi_isoc built-in TLE (epoch 2026-06-26)")


@dataclass(frozen=True)
class GroundTrack:
    """Sub-satellite points at given times.

    Attributes
    ----------
    met : numpy.ndarray
        Times (MET seconds).
    lat, lon : numpy.ndarray
        Geodetic latitude and east longitude in [-180, 180), degrees.
    height_km : numpy.ndarray
        Height above the WGS84 ellipsoid, km.
    """

    met: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    height_km: np.ndarray


def ground_track(tle: Tle, met: np.ndarray) -> GroundTrack:
    """Propagate ``tle`` with sgp4 to the MET times ``met`` and return the ground track.

    Raises
    ------
    TleError
        When sgp4 reports an error at any of the times (for example orbit decay far from the
        epoch), with the first such time.
    """
    met = np.atleast_1d(np.asarray(met, dtype=np.float64))
    t = met_to_time(met).utc
    err, r, _v = tle.satrec.sgp4_array(t.jd1, t.jd2)
    if np.any(err != 0):
        bad = int(np.flatnonzero(err)[0])
        raise TleError(
            f"{tle.source}: sgp4 error {int(err[bad])} at MET {met[bad]:.3f} "
            f"({(met[bad] - tle.epoch_met) / 86400:.1f} days from the TLE epoch)"
        )
    teme = TEME(CartesianRepresentation(r.T * u.km), obstime=t)
    geo = teme.transform_to(ITRS(obstime=t)).earth_location.geodetic
    lon = (geo.lon.to_value(u.deg) + 180.0) % 360.0 - 180.0
    return GroundTrack(met, geo.lat.to_value(u.deg), lon, geo.height.to_value(u.km))
