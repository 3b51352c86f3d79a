"""Attitude and orbit interpolation: quaternion slerp, Hermite position, sky directions of axes.

Quaternions are ``(x, y, z, w)`` (scalar last, as FT2 ``QSJ_1..4`` and the attitude records)
and rotate spacecraft-body vectors into ECI J2000: ``v_sky = q v_body q*``. This convention
reproduces ``RA_SCZ``/``DEC_SCZ`` and ``RA_SCX``/``DEC_SCX`` of real FT2 files from their
``QSJ`` columns to float32 precision.
"""

from __future__ import annotations

import numpy as np


def _bracket(t_samples: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the index of the sample at or before each ``t`` and the fraction towards the next."""
    i = np.clip(np.searchsorted(t_samples, t, side="right") - 1, 0, max(t_samples.size - 2, 0))
    if t_samples.size < 2:
        return i, np.zeros(t.shape)
    dt = t_samples[i + 1] - t_samples[i]
    frac = np.clip((t - t_samples[i]) / np.where(dt > 0, dt, 1.0), 0.0, 1.0)
    return i, frac


def slerp(t_samples: np.ndarray, quats: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical-linear interpolation of unit quaternions at times ``t``.

    Parameters
    ----------
    t_samples
        Sorted sample times, shape ``(n,)``.
    quats
        Quaternions ``(x, y, z, w)`` at those times, shape ``(n, 4)``.
    t
        Times to interpolate at (clamped to the sample span).

    Returns
    -------
    numpy.ndarray
        ``(m, 4)`` unit quaternions, sign chosen with ``w >= 0``.
    """
    t_samples = np.asarray(t_samples, dtype=np.float64)
    q = np.asarray(quats, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    t = np.asarray(t, dtype=np.float64)
    if t_samples.size == 1:
        out = np.repeat(q, t.size, axis=0)
    else:
        i, f = _bracket(t_samples, t)
        q0, q1 = q[i], q[i + 1].copy()
        dot = np.sum(q0 * q1, axis=1)
        q1[dot < 0] *= -1.0  # take the short way round
        dot = np.abs(dot)
        omega = np.arccos(np.clip(dot, -1.0, 1.0))
        small = omega < 1e-9
        so = np.where(small, 1.0, np.sin(omega))
        a = np.where(small, 1.0 - f, np.sin((1.0 - f) * omega) / so)
        b = np.where(small, f, np.sin(f * omega) / so)
        out = a[:, None] * q0 + b[:, None] * q1
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    out[out[:, 3] < 0] *= -1.0
    return out


def hermite(t_samples: np.ndarray, pos: np.ndarray, vel: np.ndarray | None, t: np.ndarray) -> np.ndarray:
    """Interpolate positions at ``t``: cubic Hermite with velocities if given, else linear.

    Shapes: ``t_samples (n,)``, ``pos (n, 3)``, ``vel (n, 3)`` or None, ``t (m,)`` -> ``(m, 3)``.
    """
    t_samples = np.asarray(t_samples, dtype=np.float64)
    p = np.asarray(pos, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    if t_samples.size == 1:
        return np.repeat(p, t.size, axis=0)
    i, s = _bracket(t_samples, t)
    if vel is None:
        return p[i] + s[:, None] * (p[i + 1] - p[i])
    v = np.asarray(vel, dtype=np.float64)
    h = (t_samples[i + 1] - t_samples[i])[:, None]
    s = s[:, None]
    h00 = 2 * s**3 - 3 * s**2 + 1
    h10 = s**3 - 2 * s**2 + s
    h01 = -2 * s**3 + 3 * s**2
    h11 = s**3 - s**2
    return h00 * p[i] + h10 * h * v[i] + h01 * p[i + 1] + h11 * h * v[i + 1]


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
