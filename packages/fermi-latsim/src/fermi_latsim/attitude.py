"""Survey-mode attitude: rocking about the zenith, +X toward the Sun, scalar-last quaternions.

In survey mode the LAT boresight (+Z) points ``rock`` degrees from the zenith toward the north
orbit pole (the direction of the orbital angular momentum) on one orbit and toward the south
pole on the next, switching at the ascending node with a smooth slew. The body +X axis is the
projection of the Sun direction on the plane perpendicular to +Z (the Sun side, where the solar
panels face). Quaternions are body -> inertial (GCRS ~ J2000), scalar last, as FT2
``QSJ_1..QSJ_4`` and the APID 1020 record store them.
"""

from __future__ import annotations

from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.coordinates import get_sun

from fermi_core.mission.orbit import OrbitStates
from fermi_sciencetools_shim.time import met_to_time

#: Survey rocking angle since 2009 (±35° in 2008, ±60° after 2018's modified profile: configurable).
DEFAULT_ROCK_DEG = 50.0
#: Duration of the north <-> south slew centred on the ascending node, s.
DEFAULT_SLEW_S = 300.0
_SUN_STEP_S = 600.0


@dataclass(frozen=True)
class Attitude:
    """Attitude samples.

    Attributes
    ----------
    met : (n,) float64
    quaternion : (n, 4) float64
        Body -> GCRS rotation, (x, y, z, w), unit norm, ``w >= 0``.
    x_axis, z_axis : (n, 3) float64
        Body axes in GCRS (unit vectors).
    rock_deg : (n,) float64
        Signed rocking angle, positive toward the north orbit pole.
    """

    met: np.ndarray
    quaternion: np.ndarray
    x_axis: np.ndarray
    z_axis: np.ndarray
    rock_deg: np.ndarray


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def sun_direction(met: np.ndarray) -> np.ndarray:
    """Unit vectors (n, 3) toward the Sun in GCRS at ``met`` (astropy, on a 10 min grid)."""
    met = np.atleast_1d(np.asarray(met, dtype=np.float64))
    lo, hi = float(met.min()), float(met.max())
    grid = lo + _SUN_STEP_S * np.arange(int(np.ceil((hi - lo) / _SUN_STEP_S)) + 2)
    xyz = get_sun(met_to_time(grid)).cartesian.xyz.to_value(u.au).T
    return _unit(np.stack([np.interp(met, grid, xyz[:, k]) for k in range(3)], axis=1))


def rock_profile(
    met: np.ndarray, nodes: np.ndarray, rock_deg: float = DEFAULT_ROCK_DEG, slew_s: float = DEFAULT_SLEW_S
) -> np.ndarray:
    """Signed rocking angle at ``met``: +rock on even orbits, -rock on odd ones.

    Orbit ``k`` starts at ascending node ``nodes[k - 1]`` (orbit 0 is everything before the
    first node). Around each node the angle follows a half-cosine from one side to the other
    over ``slew_s`` seconds.
    """
    met = np.asarray(met, dtype=np.float64)
    nodes = np.asarray(nodes, dtype=np.float64)
    k = np.searchsorted(nodes, met, side="right")
    angle = np.where(k % 2 == 0, rock_deg, -rock_deg)
    if slew_s > 0 and nodes.size:
        j = np.clip(np.searchsorted(nodes, met), 0, nodes.size - 1)
        near = np.where(np.abs(met - nodes[j]) < np.abs(met - nodes[np.maximum(j - 1, 0)]), j, j - 1)
        near = np.clip(near, 0, nodes.size - 1)
        dt = met - nodes[near]
        ramp = np.abs(dt) < slew_s / 2
        before = np.where(near % 2 == 0, rock_deg, -rock_deg)  # side of orbit `near` (before node)
        w = 0.5 * (1.0 - np.cos(np.pi * (dt + slew_s / 2) / slew_s))
        angle = np.where(ramp, before * (1.0 - 2.0 * w), angle)
    return angle


def matrix_to_quaternion(m: np.ndarray) -> np.ndarray:
    """Scalar-last unit quaternions (n, 4) of rotation matrices (n, 3, 3), with ``w >= 0``."""
    m = np.asarray(m, dtype=np.float64)
    tr = np.trace(m, axis1=1, axis2=2)
    cand = np.stack([m[:, 0, 0], m[:, 1, 1], m[:, 2, 2], tr], axis=1)
    best = np.argmax(cand, axis=1)  # pivot on the largest component for stability
    q = np.empty((m.shape[0], 4))
    for k in range(4):
        sel = best == k
        if not sel.any():
            continue
        a = m[sel]
        if k == 3:
            s = 2.0 * np.sqrt(1.0 + tr[sel])
            q[sel] = np.stack(
                [
                    (a[:, 2, 1] - a[:, 1, 2]) / s,
                    (a[:, 0, 2] - a[:, 2, 0]) / s,
                    (a[:, 1, 0] - a[:, 0, 1]) / s,
                    s / 4,
                ],
                axis=1,
            )
        else:
            i, j, m3 = k, (k + 1) % 3, (k + 2) % 3
            s = 2.0 * np.sqrt(1.0 + a[:, i, i] - a[:, j, j] - a[:, m3, m3])
            comp = np.empty((a.shape[0], 4))
            comp[:, i] = s / 4
            comp[:, j] = (a[:, j, i] + a[:, i, j]) / s
            comp[:, m3] = (a[:, m3, i] + a[:, i, m3]) / s
            comp[:, 3] = (a[:, m3, j] - a[:, j, m3]) / s
            q[sel] = comp
    q *= np.where(q[:, 3:4] < 0, -1.0, 1.0)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices (n, 3, 3) of scalar-last quaternions (n, 4)."""
    q = _unit(np.atleast_2d(np.asarray(q, dtype=np.float64)))
    x, y, z, w = q.T
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], axis=1),
            np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], axis=1),
            np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], axis=1),
        ],
        axis=1,
    )


def survey_attitude(
    states: OrbitStates,
    nodes: np.ndarray,
    rock_deg: float = DEFAULT_ROCK_DEG,
    slew_s: float = DEFAULT_SLEW_S,
) -> Attitude:
    """Survey-mode attitude at the times of ``states`` given the ascending-node times ``nodes``."""
    zenith = _unit(states.position)
    north = _unit(np.cross(states.position, states.velocity))
    north = _unit(north - np.sum(north * zenith, axis=1, keepdims=True) * zenith)
    rock = rock_profile(states.met, nodes, rock_deg, slew_s)
    a = np.radians(rock)[:, None]
    z_axis = _unit(np.cos(a) * zenith + np.sin(a) * north)
    sun = sun_direction(states.met)
    x_axis = _unit(sun - np.sum(sun * z_axis, axis=1, keepdims=True) * z_axis)
    y_axis = np.cross(z_axis, x_axis)
    rot = np.stack([x_axis, y_axis, z_axis], axis=2)  # columns = body axes in GCRS
    return Attitude(states.met, matrix_to_quaternion(rot), x_axis, z_axis, rock)


def radec_deg(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Right ascension in [0, 360) and declination of unit vectors (n, 3), degrees."""
    v = _unit(np.atleast_2d(v))
    ra = np.degrees(np.arctan2(v[:, 1], v[:, 0])) % 360.0
    dec = np.degrees(np.arcsin(np.clip(v[:, 2], -1.0, 1.0)))
    return ra, dec
