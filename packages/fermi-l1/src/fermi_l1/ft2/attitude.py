"""Sky directions of the spacecraft axes from attitude quaternions.

The interpolation of the attitude (slerp) and of the orbit (Hermite) between samples is
:mod:`fermi_core.mission.pointing`, shared with reconstruction, the simulator and operations.

Quaternions are ``(x, y, z, w)`` (scalar last, as FT2 ``QSJ_1..4`` and the attitude records)
and rotate spacecraft-body vectors into ECI J2000: ``v_sky = q v_body q*``. This convention
reproduces ``RA_SCZ``/``DEC_SCZ`` and ``RA_SCX``/``DEC_SCX`` of real FT2 files from their
``QSJ`` columns to float32 precision.
"""

from __future__ import annotations

import numpy as np


def rotate(quats: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """Rotate the body-frame ``vector`` (3,) by each quaternion ``(x, y, z, w)``; returns ``(m, 3)``."""
    q = np.asarray(quats, dtype=np.float64)
    u, w = q[:, :3], q[:, 3:4]
    v = np.broadcast_to(np.asarray(vector, dtype=np.float64), u.shape)
    return (
        v * (w**2 - np.sum(u * u, axis=1, keepdims=True))
        + 2 * u * np.sum(u * v, axis=1, keepdims=True)
        + (2 * w * np.cross(u, v))
    )


def radec(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return RA in [0, 360) and Dec (degrees) of ``(m, 3)`` vectors (any length)."""
    v = np.asarray(vectors, dtype=np.float64)
    r = np.linalg.norm(v, axis=1)
    ra = np.degrees(np.arctan2(v[:, 1], v[:, 0])) % 360.0
    dec = np.degrees(np.arcsin(np.clip(v[:, 2] / r, -1.0, 1.0)))
    return ra, dec


def unit(ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
    """Return ``(m, 3)`` unit vectors of RA/Dec in degrees."""
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=1)
