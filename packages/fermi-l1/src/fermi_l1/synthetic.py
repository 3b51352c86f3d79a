"""Known-answer spacecraft samples and merit-like event tables (tests and demos), not a simulator.

The orbit here is deliberately **not** Fermi's: it is an exact circular Kepler orbit (radius
``ORBIT_RADIUS_M``, inclination ``INCLINATION_DEG``, no perturbations) whose geometry tests can
state in closed form (constant radius, orbit pole at declination ``90 - INCLINATION_DEG``).
Fermi's orbit, propagated with sgp4 from a TLE, is :mod:`fermi_core.mission.orbit` (used by the
simulator, fermi-latsim, and by mission planning). The attitude is the survey profile: the
boresight rocked ``rock_deg`` north or south of the zenith about the orbit-normal direction, +X
kept in the orbit plane. Events are uniform in time with a constant live fraction. These give
FT1/FT2 production inputs whose answers are known.
"""

from __future__ import annotations

import numpy as np
from astropy import units as au
from astropy.coordinates import SkyCoord

from fermi_core.mission.pointing import hermite, slerp
from fermi_l1.ft2.attitude import radec

#: gravitational parameter of the Earth (m^3 s^-2) of the test orbit's mean motion
EARTH_MU = 3.986004418e14
#: radius of the circular test orbit, m (WGS84 equatorial radius + 565 km)
ORBIT_RADIUS_M = 6378137.0 + 565e3
#: inclination of the circular test orbit, degrees
INCLINATION_DEG = 25.6


def _matrix_to_quaternion(m: np.ndarray) -> np.ndarray:
    """Return ``(x, y, z, w)`` of rotation matrices ``(n, 3, 3)`` (columns = body axes in ECI)."""
    tr = np.trace(m, axis1=1, axis2=2)
    w = np.sqrt(np.maximum(1.0 + tr, 1e-12)) / 2.0
    x = (m[:, 2, 1] - m[:, 1, 2]) / (4 * w)
    y = (m[:, 0, 2] - m[:, 2, 0]) / (4 * w)
    z = (m[:, 1, 0] - m[:, 0, 1]) / (4 * w)
    q = np.stack([x, y, z, w], axis=1)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def spacecraft_samples(
    t0: float, duration: float, rate_hz: float = 5.0, rock_deg: float = 50.0, phase_deg: float = 0.0
) -> dict[str, np.ndarray]:
    """Return samples ``met, quaternion, position, velocity, in_saa, lat_mode, lat_config, data_qual``.

    The rocking sign flips every orbit (north on even orbits), like the survey profile.
    """
    met = t0 + np.arange(int(np.ceil(duration * rate_hz)) + 1) / rate_hz
    n_motion = np.sqrt(EARTH_MU / ORBIT_RADIUS_M**3)
    u = np.radians(phase_deg) + n_motion * (met - t0)
    inc = np.radians(INCLINATION_DEG)
    node = np.radians(40.0)
    # perifocal -> ECI for a circular orbit: rotate by inclination about x then node about z
    p_orb = np.stack([np.cos(u), np.sin(u), np.zeros_like(u)], axis=1)
    v_orb = np.stack([-np.sin(u), np.cos(u), np.zeros_like(u)], axis=1)
    ci, si, cn, sn = np.cos(inc), np.sin(inc), np.cos(node), np.sin(node)
    rot = np.array([[cn, -sn * ci, sn * si], [sn, cn * ci, -cn * si], [0.0, si, ci]])
    pos = ORBIT_RADIUS_M * p_orb @ rot.T
    vel = ORBIT_RADIUS_M * n_motion * v_orb @ rot.T
    zenith = pos / np.linalg.norm(pos, axis=1, keepdims=True)
    normal = np.cross(pos, vel)
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    orbit_number = np.floor(n_motion * (met - t0) / (2 * np.pi))
    sign = np.where(orbit_number % 2 == 0, 1.0, -1.0)
    rock = np.radians(rock_deg) * sign
    z_axis = np.cos(rock)[:, None] * zenith + np.sin(rock)[:, None] * normal
    x_axis = vel / np.linalg.norm(vel, axis=1, keepdims=True)
    y_axis = np.cross(z_axis, x_axis)
    matrices = np.stack([x_axis, y_axis, z_axis], axis=2)
    return {
        "met": met,
        "quaternion": _matrix_to_quaternion(matrices),
        "position": pos,
        "velocity": vel,
        "in_saa": np.zeros(met.size, dtype=bool),
        "lat_mode": np.full(met.size, 5, dtype=np.int32),
        "lat_config": np.ones(met.size, dtype=np.uint8),
        "data_qual": np.ones(met.size, dtype=np.int16),
    }


def event_counters(
    run_start: float, run_stop: float, rate_hz: float = 50.0, live_fraction: float = 0.9, seed: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Return sorted event times and GEM livetime counters (s since run start) with a constant live fraction."""
    rng = np.random.default_rng(seed)
    n = max(int((run_stop - run_start) * rate_hz), 2)
    t = np.sort(rng.uniform(run_start, run_stop, n))
    return t, live_fraction * (t - run_start)


def merit_table(
    samples: dict[str, np.ndarray], run_start: float, run_stop: float, n_events: int = 400, seed: int = 2
) -> dict[str, np.ndarray]:
    """Return merit-like columns (FT1 names) for ``n_events`` events of a run.

    Directions are drawn in the instrument frame (THETA < 70 deg) and put on the sky with the
    attitude, so RA/DEC, THETA/PHI and ZENITH_ANGLE are mutually consistent. One event in two is
    SOURCE class (EVENT_CLASS bits 0-7 and 11), the others TRANSIENT020E/TRANSIENT015S only.
    """
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(run_start, run_stop, n_events))
    theta = np.degrees(np.arccos(rng.uniform(np.cos(np.radians(70.0)), 1.0, n_events)))
    phi = rng.uniform(0.0, 360.0, n_events)
    th, ph = np.radians(theta), np.radians(phi)
    body = np.stack([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)], axis=1)
    q = slerp(samples["met"], samples["quaternion"], t)
    u, w = q[:, :3], q[:, 3:4]
    sky = body * (w**2 - np.sum(u * u, axis=1, keepdims=True)) + 2 * u * np.sum(
        u * body, axis=1, keepdims=True
    )
    sky += 2 * w * np.cross(u, body)
    ra, dec = radec(sky)
    pos = hermite(samples["met"], samples["position"], samples.get("velocity"), t)
    zen = pos / np.linalg.norm(pos, axis=1, keepdims=True)
    zenith_angle = np.degrees(np.arccos(np.clip(np.sum(sky * zen, axis=1), -1, 1)))
    gal = SkyCoord(ra=ra * au.deg, dec=dec * au.deg, frame="fk5").galactic
    source = np.arange(n_events) % 2 == 0
    evclass = np.where(source, 0xFF | 2048 | 65536, 8 | 65536).astype(np.int64)
    conv = rng.integers(0, 2, n_events).astype(np.int16)
    evtype = (
        (1 << conv.astype(np.int64))
        | (4 << rng.integers(0, 4, n_events))
        | (64 << rng.integers(0, 4, n_events))
    )
    return {
        "ENERGY": rng.pareto(1.1, n_events) * 100.0 + 30.0,
        "RA": ra,
        "DEC": dec,
        "L": gal.l.deg,
        "B": gal.b.deg,
        "THETA": theta,
        "PHI": phi,
        "ZENITH_ANGLE": zenith_angle,
        "EARTH_AZIMUTH_ANGLE": rng.uniform(0.0, 360.0, n_events),
        "TIME": t,
        "EVENT_ID": np.arange(n_events, dtype=np.int32) * 7 + 3,
        "RUN_ID": np.full(n_events, int(run_start), dtype=np.int32),
        "EVENT_CLASS": evclass,
        "EVENT_TYPE": evtype.astype(np.int64),
        "CONVERSION_TYPE": conv,
        "LIVETIME": 0.9 * (t - run_start),
    }
