"""Fermi's orbit from a two-line element set (TLE): SGP4 states in GCRS and the ground track.

SGP4 (the ``sgp4`` package, the Vallado implementation) gives positions and velocities in the
TEME frame; astropy turns them into GCRS (the inertial frame of FT2 ``SC_POSITION``, equal to
J2000 to within the 20 mas frame bias) and into ITRS for the ground track. MET goes through
:mod:`fermi_sciencetools_shim.time`, so leap seconds are handled by astropy.
"""

from __future__ import annotations

from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.coordinates import GCRS, ITRS, TEME, CartesianDifferential, CartesianRepresentation
from astropy.time import Time
from sgp4.api import Satrec

from fermi_sciencetools_shim.time import met_to_time, time_to_met

#: A public Fermi TLE (NORAD 33053, COSPAR 2008-029A), epoch 2017-08-17 13:30:59 UTC (the day of
#: GW170817), as distributed by CelesTrak / Space-Track. Orbit figures are derived from it, never
#: hard-coded: the orbit decays (about 544 km in 2013, 531 km in 2022).
DEFAULT_TLE = (
    "1 33053U 08029A   17229.56317825  .00000508  00000-0  12437-4 0  9995",
    "2 33053  25.5829 306.0377 0012114 272.5539  87.3609 15.10926454506590",
)
#: Spacing of the grid on which the TEME -> GCRS rotation matrix is computed, s.
_MATRIX_STEP_S = 600.0
_SGP4_ERRORS = {
    1: "mean eccentricity out of range",
    2: "mean motion below zero",
    3: "perturbed eccentricity out of range",
    4: "semi-latus rectum below zero",
    6: "orbit decayed",
}


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
    """Geodetic sub-satellite point (WGS84): latitude, east longitude in [-180, 180), height."""

    lat_deg: np.ndarray
    lon_deg: np.ndarray
    height_m: np.ndarray


def _check_tle_line(number: int, line: str) -> None:
    """Check a TLE line's number, length and modulo-10 checksum (digits, '-' counts 1)."""
    line = line.rstrip()
    if len(line) != 69 or line[0] != str(number):
        raise ValueError(f"parameter 'tle': line {number} must be 69 characters starting with '{number}'")
    total = sum(int(c) if c.isdigit() else (1 if c == "-" else 0) for c in line[:68])
    if str(total % 10) != line[68]:
        raise ValueError(
            f"parameter 'tle': line {number} checksum {line[68]!r} wrong (computed {total % 10})"
        )


class Orbit:
    """SGP4 propagator for one TLE.

    Parameters
    ----------
    line1, line2
        The two lines of the element set (checksums are verified by ``sgp4``).
    """

    def __init__(self, line1: str = DEFAULT_TLE[0], line2: str = DEFAULT_TLE[1]) -> None:
        for number, line in ((1, line1), (2, line2)):
            _check_tle_line(number, line)
        try:
            self._sat = Satrec.twoline2rv(line1.rstrip(), line2.rstrip())
        except (ValueError, IndexError) as exc:
            raise ValueError(f"parameter 'tle': not a valid two-line element set ({exc})") from None
        if self._sat.error:
            raise ValueError(f"parameter 'tle': SGP4 error {self._sat.error} at epoch")
        self.line1, self.line2 = line1, line2

    @property
    def epoch_met(self) -> float:
        """MET of the element set's epoch."""
        t = Time(self._sat.jdsatepoch, self._sat.jdsatepochF, format="jd", scale="utc")
        return float(time_to_met(t))

    @property
    def mean_motion_period_s(self) -> float:
        """Period from the TLE's (Kozai) mean motion, s (the nodal period differs slightly)."""
        return float(2.0 * np.pi / self._sat.no_kozai * 60.0)

    @property
    def inclination_deg(self) -> float:
        """Mean inclination of the element set, degrees."""
        return float(np.degrees(self._sat.inclo))

    def _teme(self, met: np.ndarray) -> tuple[Time, np.ndarray, np.ndarray]:
        met = np.atleast_1d(np.asarray(met, dtype=np.float64))
        t = met_to_time(met).utc
        err, r_km, v_kms = self._sat.sgp4_array(np.asarray(t.jd1), np.asarray(t.jd2))
        bad = np.flatnonzero(err)
        if bad.size:
            code = int(err[bad[0]])
            raise ValueError(
                f"SGP4 failed at MET {met[bad[0]]:.3f} (index {bad[0]}): "
                f"{_SGP4_ERRORS.get(code, f'error {code}')}"
            )
        return t, r_km, v_kms

    def states(self, met: np.ndarray) -> OrbitStates:
        """Return GCRS positions (m) and velocities (m/s) at MET times ``met``.

        The TEME -> GCRS rotation (precession, nutation, frame bias) changes by microradians per
        hour, so astropy evaluates it on a grid of ``_MATRIX_STEP_S`` and it is interpolated in
        between (agrees with a per-sample astropy transform to well under a metre).
        """
        met = np.atleast_1d(np.asarray(met, dtype=np.float64))
        _, r_km, v_kms = self._teme(met)
        rot = teme_to_gcrs_matrix(met)
        pos = np.einsum("nij,nj->ni", rot, r_km) * 1e3
        vel = np.einsum("nij,nj->ni", rot, v_kms) * 1e3
        return OrbitStates(met, pos, vel)

    def states_exact(self, met: np.ndarray) -> OrbitStates:
        """As :meth:`states`, with astropy transforming every sample (slow; for checks)."""
        t, r_km, v_kms = self._teme(met)
        rep = CartesianRepresentation(r_km.T * u.km).with_differentials(
            CartesianDifferential(v_kms.T * u.km / u.s)
        )
        gcrs = TEME(rep, obstime=t).transform_to(GCRS(obstime=t))
        pos = gcrs.cartesian.xyz.to_value(u.m).T
        vel = gcrs.cartesian.differentials["s"].d_xyz.to_value(u.m / u.s).T
        return OrbitStates(np.atleast_1d(np.asarray(met, dtype=np.float64)), pos, vel)

    def ground_track(self, met: np.ndarray) -> GroundTrack:
        """Return the geodetic latitude, longitude and height of the spacecraft at ``met``."""
        t, r_km, _ = self._teme(met)
        itrs = TEME(CartesianRepresentation(r_km.T * u.km), obstime=t).transform_to(ITRS(obstime=t))
        geo = itrs.earth_location.geodetic
        lon = (geo.lon.to_value(u.deg) + 180.0) % 360.0 - 180.0
        return GroundTrack(geo.lat.to_value(u.deg), lon, geo.height.to_value(u.m))


def ascending_nodes(states: OrbitStates) -> np.ndarray:
    """MET of the northbound equator crossings (GCRS z from < 0 to >= 0), linearly interpolated."""
    z = states.position[:, 2]
    i = np.flatnonzero((z[:-1] < 0) & (z[1:] >= 0))
    frac = -z[i] / (z[i + 1] - z[i])
    return states.met[i] + frac * (states.met[i + 1] - states.met[i])


def inclination_deg(states: OrbitStates) -> np.ndarray:
    """Osculating inclination at each state, from the angular momentum vector, degrees."""
    h = np.cross(states.position, states.velocity)
    return np.degrees(np.arccos(h[:, 2] / np.linalg.norm(h, axis=1)))


def teme_to_gcrs_matrix(met: np.ndarray) -> np.ndarray:
    """Rotation matrices (n, 3, 3) taking TEME vectors to GCRS at MET ``met``.

    Computed by astropy on a grid of ``_MATRIX_STEP_S`` seconds spanning ``met`` and linearly
    interpolated element by element.
    """
    met = np.atleast_1d(np.asarray(met, dtype=np.float64))
    lo, hi = float(met.min()), float(met.max())
    grid = lo + _MATRIX_STEP_S * np.arange(int(np.ceil((hi - lo) / _MATRIX_STEP_S)) + 1)
    if grid.size == 1:
        grid = np.array([lo, lo + _MATRIX_STEP_S])
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
