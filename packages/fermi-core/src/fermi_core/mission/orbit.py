"""Fermi's orbit: two-line element sets (TLE) and their sgp4 propagation, in SI units.

SGP4 (the ``sgp4`` package, the Vallado implementation) gives positions and velocities in the
TEME frame; astropy turns them into GCRS (the inertial frame of FT2 ``SC_POSITION``, equal to
J2000 to within the 20 mas frame bias) and into ITRS for the geodetic ground track. MET goes
through :mod:`fermi_sciencetools_shim.time`, so leap seconds are handled by astropy. Orbit
figures (period, inclination, altitude) always come from the TLE in use: the orbit decays
(about 544 km in 2013, 531 km in 2022), so none is hard-coded.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import GCRS, ITRS, TEME, CartesianDifferential, CartesianRepresentation
from astropy.time import Time
from sgp4.api import Satrec

from fermi_core.errors import BadInput
from fermi_sciencetools_shim.time import met_to_time, time_to_met

__all__ = [
    "FERMI_NORAD_ID",
    "TLE_2017_08_17",
    "TLE_2026_06_26",
    "GroundTrack",
    "Orbit",
    "OrbitStates",
    "Tle",
    "TleError",
    "ascending_nodes",
    "osculating_inclination_deg",
    "parse_tle",
    "read_tle",
    "teme_to_gcrs_matrix",
    "tle_from_lines",
]

#: Fermi's NORAD catalog number (COSPAR 2008-029A).
FERMI_NORAD_ID = 33053

#: A public Fermi TLE, epoch 2017-08-17 13:30:59 UTC (the day of GW170817), as distributed by
#: CelesTrak / Space-Track. The simulator (fermi-latsim) flies it.
TLE_2017_08_17 = (
    "1 33053U 08029A   17229.56317825  .00000508  00000-0  12437-4 0  9995",
    "2 33053  25.5829 306.0377 0012114 272.5539  87.3609 15.10926454506590",
)

#: The most recent Fermi TLE known to this package (epoch 2026-06-26), the default of mission
#: planning (fermi-isoc); replace it with the current one from flight dynamics when planning.
TLE_2026_06_26 = (
    "1 33053U 08029A   26177.59189692  .00002598  00000+0  90722-4 0  9992",
    "2 33053  25.5805 139.1753 0008421  78.3295 281.8188 15.23982538997275",
)

#: Spacing of the grid on which the TEME -> GCRS rotation matrix is computed, s.
MATRIX_STEP_S = 600.0

_SGP4_ERRORS = {
    1: "mean eccentricity out of range",
    2: "mean motion below zero",
    3: "perturbed eccentricity out of range",
    4: "semi-latus rectum below zero",
    6: "orbit decayed",
}


class TleError(BadInput, ValueError):
    """A TLE that cannot be used, or sgp4 failing with it, naming where it came from and why."""


def _checksum(line: str) -> int:
    """Modulo-10 checksum of a TLE line's first 68 characters (digits count, '-' counts 1)."""
    total = sum(int(c) if c.isdigit() else (1 if c == "-" else 0) for c in line[:68])
    return total % 10


@dataclass(frozen=True)
class Tle:
    """A validated two-line element set.

    Use :func:`parse_tle` or :func:`read_tle` to build one.

    Attributes
    ----------
    line1, line2 : str
        The two element lines (69 characters each).
    name : str
        Satellite name (from an optional name line).
    source : str
        Where the elements come from (file name or a description), named in errors.
    """

    line1: str
    line2: str
    name: str = "FERMI"
    source: str = "<built-in>"

    @cached_property
    def satrec(self) -> Satrec:
        """The sgp4 satellite record."""
        return Satrec.twoline2rv(self.line1, self.line2)

    @property
    def norad_id(self) -> int:
        """NORAD catalog number."""
        return int(self.line1[2:7])

    @property
    def epoch_met(self) -> float:
        """Epoch of the elements, MET seconds."""
        sat = self.satrec
        return float(time_to_met(Time(sat.jdsatepoch, sat.jdsatepochF, format="jd", scale="utc")))

    @property
    def inclination_deg(self) -> float:
        """Mean inclination of the element set, degrees."""
        return float(np.degrees(self.satrec.inclo))

    @property
    def period_s(self) -> float:
        """Period from the (Kozai) mean motion, s (the nodal period differs slightly)."""
        return float(2.0 * np.pi / self.satrec.no_kozai * 60.0)


def parse_tle(text: str, source: str = "<string>") -> Tle:
    """Parse and validate a TLE given as two lines (optionally preceded by a name line).

    Parameters
    ----------
    text : str
        The lines, separated by newlines; blank lines and trailing blanks are ignored.
    source : str
        Where the text comes from, named in errors.

    Returns
    -------
    Tle

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
    try:
        sat = tle.satrec
    except (ValueError, IndexError) as exc:
        raise TleError(f"{source}: not a valid two-line element set ({exc})") from None
    if sat.error != 0:
        raise TleError(f"{source}: sgp4 rejects the elements (error code {sat.error})")
    return tle


def read_tle(path: str | Path) -> Tle:
    """Read and validate a TLE file (2 lines, or a name line and 2).

    Raises
    ------
    TleError
        The file cannot be read, or its elements are not a valid TLE (see :func:`parse_tle`).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise TleError(f"{path}: cannot read TLE file: {exc}") from exc
    return parse_tle(text, source=str(path))


def tle_from_lines(lines: tuple[str, str], source: str) -> Tle:
    """Return a validated :class:`Tle` of two lines, e.g. :data:`TLE_2017_08_17`.

    Raises
    ------
    TleError
        As :func:`parse_tle`, naming ``source``.
    """
    return parse_tle("\n".join(lines), source=source)


@dataclass(frozen=True)
class OrbitStates:
    """Spacecraft states at a set of MET times.

    Attributes
    ----------
    met : (n,) float64
        MET seconds.
    position : (n, 3) float64
        GCRS position, m.
    velocity : (n, 3) float64
        GCRS velocity, m/s.
    """

    met: np.ndarray
    position: np.ndarray
    velocity: np.ndarray


@dataclass(frozen=True)
class GroundTrack:
    """Geodetic (WGS84) sub-satellite points.

    Attributes
    ----------
    met : (n,) float64
        MET seconds.
    lat_deg, lon_deg : (n,) float64
        Geodetic latitude and east longitude in [-180, 180), degrees.
    height_m : (n,) float64
        Height above the ellipsoid, m.
    """

    met: np.ndarray
    lat_deg: np.ndarray
    lon_deg: np.ndarray
    height_m: np.ndarray


class Orbit:
    """SGP4 propagator of one TLE.

    Parameters
    ----------
    tle : Tle
        The element set (see :func:`parse_tle`).
    """

    def __init__(self, tle: Tle) -> None:
        self.tle = tle
        self._sat = tle.satrec

    @property
    def epoch_met(self) -> float:
        """MET of the element set's epoch."""
        return self.tle.epoch_met

    @property
    def mean_motion_period_s(self) -> float:
        """Period from the TLE's (Kozai) mean motion, s (the nodal period differs slightly)."""
        return self.tle.period_s

    @property
    def inclination_deg(self) -> float:
        """Mean inclination of the element set, degrees."""
        return self.tle.inclination_deg

    def teme(self, met: np.ndarray) -> tuple[Time, np.ndarray, np.ndarray]:
        """Return (UTC times, TEME positions in km, TEME velocities in km/s) at MET ``met``.

        Raises
        ------
        TleError
            When sgp4 fails at any of the times (for example orbit decay far from the epoch),
            naming the first such time and its distance from the TLE epoch.
        """
        met = np.atleast_1d(np.asarray(met, dtype=np.float64))
        t = met_to_time(met).utc
        err, r_km, v_kms = self._sat.sgp4_array(np.asarray(t.jd1), np.asarray(t.jd2))
        bad = np.flatnonzero(err)
        if bad.size:
            code = int(err[bad[0]])
            raise TleError(
                f"{self.tle.source}: sgp4 failed at MET {met[bad[0]]:.3f} (index {bad[0]}, "
                f"{(met[bad[0]] - self.epoch_met) / 86400:.1f} days from the TLE epoch): "
                f"{_SGP4_ERRORS.get(code, f'error {code}')}"
            )
        return t, r_km, v_kms

    def states(self, met: np.ndarray) -> OrbitStates:
        """Return GCRS positions (m) and velocities (m/s) at MET times ``met``.

        The TEME -> GCRS rotation (precession, nutation, frame bias) changes by microradians per
        hour, so astropy evaluates it on a grid of :data:`MATRIX_STEP_S` and it is interpolated
        in between (agrees with a per-sample astropy transform to well under a metre).
        """
        met = np.atleast_1d(np.asarray(met, dtype=np.float64))
        _, r_km, v_kms = self.teme(met)
        rot = teme_to_gcrs_matrix(met)
        pos = np.einsum("nij,nj->ni", rot, r_km) * 1e3
        vel = np.einsum("nij,nj->ni", rot, v_kms) * 1e3
        return OrbitStates(met, pos, vel)

    def states_exact(self, met: np.ndarray) -> OrbitStates:
        """As :meth:`states`, with astropy transforming every sample (slow; for checks)."""
        t, r_km, v_kms = self.teme(met)
        rep = CartesianRepresentation(r_km.T * u.km).with_differentials(
            CartesianDifferential(v_kms.T * u.km / u.s)
        )
        gcrs = TEME(rep, obstime=t).transform_to(GCRS(obstime=t))
        pos = gcrs.cartesian.xyz.to_value(u.m).T
        vel = gcrs.cartesian.differentials["s"].d_xyz.to_value(u.m / u.s).T
        return OrbitStates(np.atleast_1d(np.asarray(met, dtype=np.float64)), pos, vel)

    def ground_track(self, met: np.ndarray) -> GroundTrack:
        """Return the geodetic latitude, east longitude and height of the spacecraft at ``met``."""
        met = np.atleast_1d(np.asarray(met, dtype=np.float64))
        t, r_km, _ = self.teme(met)
        itrs = TEME(CartesianRepresentation(r_km.T * u.km), obstime=t).transform_to(ITRS(obstime=t))
        geo = itrs.earth_location.geodetic
        lon = (geo.lon.to_value(u.deg) + 180.0) % 360.0 - 180.0
        return GroundTrack(met, geo.lat.to_value(u.deg), lon, geo.height.to_value(u.m))


def ascending_nodes(states: OrbitStates) -> np.ndarray:
    """MET of the northbound equator crossings (GCRS z from < 0 to >= 0), linearly interpolated."""
    z = states.position[:, 2]
    i = np.flatnonzero((z[:-1] < 0) & (z[1:] >= 0))
    frac = -z[i] / (z[i + 1] - z[i])
    return states.met[i] + frac * (states.met[i + 1] - states.met[i])


def osculating_inclination_deg(states: OrbitStates) -> np.ndarray:
    """Osculating inclination at each state, from the angular momentum vector, degrees."""
    h = np.cross(states.position, states.velocity)
    return np.degrees(np.arccos(h[:, 2] / np.linalg.norm(h, axis=1)))


def teme_to_gcrs_matrix(met: np.ndarray) -> np.ndarray:
    """Rotation matrices (n, 3, 3) taking TEME vectors to GCRS at MET ``met``.

    Computed by astropy on a grid of :data:`MATRIX_STEP_S` seconds spanning ``met`` and linearly
    interpolated element by element.
    """
    met = np.atleast_1d(np.asarray(met, dtype=np.float64))
    lo, hi = float(met.min()), float(met.max())
    grid = lo + MATRIX_STEP_S * np.arange(int(np.ceil((hi - lo) / MATRIX_STEP_S)) + 1)
    if grid.size == 1:
        grid = np.array([lo, lo + MATRIX_STEP_S])
    ng = grid.size
    basis = np.tile(np.eye(3), (ng, 1))  # rows: x, y, z unit vectors for each grid time
    tt = met_to_time(np.repeat(grid, 3))
    rep = CartesianRepresentation(basis.T * 7000.0 * u.km)
    out = TEME(rep, obstime=tt).transform_to(GCRS(obstime=tt)).cartesian.xyz.to_value(u.km).T / 7000.0
    # column j of the matrix is the image of unit vector j
    mats = out.reshape(ng, 3, 3).transpose(0, 2, 1)
    flat = mats.reshape(ng, 9)
    interp = np.stack([np.interp(met, grid, flat[:, k]) for k in range(9)], axis=1)
    return interp.reshape(-1, 3, 3)
