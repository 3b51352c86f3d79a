"""Pointing between samples: attitude quaternions and spacecraft positions at arbitrary times.

Quaternions are ``(x, y, z, w)`` (scalar last, as FT2 ``QSJ_1..4`` and the APID 1020 attitude
records) and rotate spacecraft-body vectors into ECI J2000: ``v_sky = q v_body q*``.

* :func:`slerp` -- spherical-linear interpolation of the quaternions (FT2 rows, test data).
* :func:`hermite` -- cubic Hermite interpolation of positions with velocities (FT2 rows).
* :func:`nlerp` -- normalised linear interpolation of quaternions and linear positions (event
  directions in reconstruction, the replay of real FT2 attitude). Between 5 Hz attitude samples
  it differs from :func:`slerp` by far less than a microradian, but not by zero bits, so each
  product keeps the interpolation it was made with.
* :func:`arc` -- positions along the great circle between samples, radius linear (tracks
  rebuilt across FT2 gaps, FT2 rows 30 s apart).
"""

from __future__ import annotations

import numpy as np

__all__ = ["arc", "bracket", "hermite", "nlerp", "slerp"]


def bracket(t_samples: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the index of the sample at or before each ``t`` and the fraction towards the next.

    Indices are clipped to ``[0, n - 2]`` and fractions to ``[0, 1]``, so times outside the
    samples take the nearest one.
    """
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
    t_samples : numpy.ndarray
        Sorted sample times, shape ``(n,)``.
    quats : numpy.ndarray
        Quaternions ``(x, y, z, w)`` at those times, shape ``(n, 4)``.
    t : numpy.ndarray
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
        i, f = bracket(t_samples, t)
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

    Parameters
    ----------
    t_samples : numpy.ndarray
        Sorted sample times, shape ``(n,)``.
    pos : numpy.ndarray
        Positions ``(n, 3)``.
    vel : numpy.ndarray or None
        Velocities ``(n, 3)`` in position units per second, or None for linear interpolation.
    t : numpy.ndarray
        Times ``(m,)`` (clamped to the sample span).

    Returns
    -------
    numpy.ndarray
        ``(m, 3)`` positions.
    """
    t_samples = np.asarray(t_samples, dtype=np.float64)
    p = np.asarray(pos, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    if t_samples.size == 1:
        return np.repeat(p, t.size, axis=0)
    i, s = bracket(t_samples, t)
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


def nlerp(
    time: np.ndarray, t_samples: np.ndarray, quats: np.ndarray, position: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return (quaternion (n, 4), position (n, 3)) at ``time`` by normalised linear interpolation.

    Quaternions are interpolated linearly between the samples around each time and renormalised
    (the sign of the next sample is aligned first); positions linearly. Times outside the
    samples take the nearest one.

    Parameters
    ----------
    time : numpy.ndarray
        Times (MET s).
    t_samples : numpy.ndarray
        Strictly increasing sample times (MET s), e.g. FT2 ``START``.
    quats : numpy.ndarray
        ``(m, 4)`` quaternions of the samples (scalar last, e.g. ``QSJ_1..QSJ_4``).
    position : numpy.ndarray
        ``(m, 3)`` positions of the samples (e.g. ``SC_POSITION``, m).

    Raises
    ------
    ValueError
        Without a sample, or with sample times not strictly increasing.
    """
    t = np.asarray(time, dtype=np.float64)
    s = np.asarray(t_samples, dtype=np.float64)
    q = np.asarray(quats, dtype=np.float64)
    p = np.asarray(position, dtype=np.float64)
    if s.ndim != 1 or s.size == 0 or np.any(np.diff(s) <= 0):
        raise ValueError("sample times: needs at least one sample and strictly increasing times")
    if len(s) == 1:
        return np.repeat(q, len(t), axis=0), np.repeat(p, len(t), axis=0)
    j = np.clip(np.searchsorted(s, t, side="right") - 1, 0, len(s) - 2)
    f = np.clip((t - s[j]) / (s[j + 1] - s[j]), 0.0, 1.0)[:, None]
    q0, q1 = q[j], q[j + 1]
    q1 = np.where(np.sum(q0 * q1, axis=1, keepdims=True) < 0, -q1, q1)
    qi = (1 - f) * q0 + f * q1
    qi /= np.linalg.norm(qi, axis=1, keepdims=True)
    return qi, (1 - f) * p[j] + f * p[j + 1]


def arc(t_samples: np.ndarray, position: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Positions at ``t`` on the great circle between the samples around each time, radius linear.

    A straight line between FT2 rows 30 s apart would cut ~1 km inside the orbit; the arc does
    not. Times outside the samples are extrapolated along the first or last arc.

    Parameters
    ----------
    t_samples : numpy.ndarray
        Strictly increasing sample times, shape ``(n,)``, ``n >= 2``.
    position : numpy.ndarray
        ``(n, 3)`` positions (any length unit).
    t : numpy.ndarray
        Times ``(m,)``.

    Returns
    -------
    numpy.ndarray
        ``(m, 3)`` positions, in the unit of ``position``.
    """
    s = np.asarray(t_samples, dtype=np.float64)
    p = np.asarray(position, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    j = np.clip(np.searchsorted(s, t, side="right") - 1, 0, len(s) - 2)
    f = ((t - s[j]) / (s[j + 1] - s[j]))[:, None]
    r0, r1 = np.linalg.norm(p[j], axis=1)[:, None], np.linalg.norm(p[j + 1], axis=1)[:, None]
    u0, u1 = p[j] / r0, p[j + 1] / r1
    omega = np.arccos(np.clip(np.sum(u0 * u1, axis=1), -1.0, 1.0))[:, None]
    sin = np.sin(omega)
    small = sin < 1e-12
    w0 = np.where(small, 1 - f, np.sin((1 - f) * omega) / np.where(small, 1.0, sin))
    w1 = np.where(small, f, np.sin(f * omega) / np.where(small, 1.0, sin))
    return (w0 * u0 + w1 * u1) * ((1 - f) * r0 + f * r1)
