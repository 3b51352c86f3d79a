"""Equatorial (J2000) to Galactic rotation with the ``astro::SkyDir`` matrix.

The ScienceTools build the rotation as ``Rz(c) @ Rx(b) @ Rz(a)`` from three Euler angles.
The angles changed in March 2016: products made before use ``"pre2016"``, later ones (and
astropy's FK5 -> Galactic transformation) use ``"current"``. The two differ by about
0.0005 deg, enough to move events across pixel edges, so the choice is explicit.
"""

from __future__ import annotations

import numpy as np

#: Euler angles (a, b, c) in degrees of ``R = Rz(c) Rx(b) Rz(a)`` for each convention.
ROTATION_ANGLES: dict[str, tuple[float, float, float]] = {
    "current": (-282.85948120653484, -62.871748819143775, 32.9319185680026),
    "pre2016": (-282.8592, -62.8717, 32.93224),
}


def _rz(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _rx(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rotation_matrix(galrot: str = "current") -> np.ndarray:
    """Return the 3x3 matrix taking equatorial unit vectors to Galactic ones.

    Parameters
    ----------
    galrot
        ``"current"`` (astropy FK5 angles, ScienceTools since 2016) or ``"pre2016"``.

    Raises
    ------
    ValueError
        For an unknown convention name.
    """
    try:
        a, b, c = np.radians(ROTATION_ANGLES[galrot.lower()])
    except KeyError:
        raise ValueError(
            f"unknown galactic rotation {galrot!r} (use one of {', '.join(ROTATION_ANGLES)})"
        ) from None
    return _rz(c) @ _rx(b) @ _rz(a)


def _rotate(lon: np.ndarray, lat: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon = np.radians(np.asarray(lon, dtype=np.float64))
    lat = np.radians(np.asarray(lat, dtype=np.float64))
    cos_lat = np.cos(lat)
    vec = np.stack([cos_lat * np.cos(lon), cos_lat * np.sin(lon), np.sin(lat)])
    out = np.tensordot(matrix, vec, axes=1)
    new_lon = np.degrees(np.arctan2(out[1], out[0])) % 360.0
    new_lat = np.degrees(np.arcsin(np.clip(out[2], -1.0, 1.0)))
    return new_lon, new_lat


def equatorial_to_galactic(
    ra: np.ndarray, dec: np.ndarray, galrot: str = "current"
) -> tuple[np.ndarray, np.ndarray]:
    """Return Galactic ``(l, b)`` in degrees for J2000 ``(ra, dec)`` in degrees.

    ``l`` is in [0, 360). ``galrot`` selects the rotation angles (see :func:`rotation_matrix`).
    """
    return _rotate(ra, dec, rotation_matrix(galrot))


def galactic_to_equatorial(
    glon: np.ndarray, glat: np.ndarray, galrot: str = "current"
) -> tuple[np.ndarray, np.ndarray]:
    """Return J2000 ``(ra, dec)`` in degrees for Galactic ``(l, b)``; inverse of the above."""
    return _rotate(glon, glat, rotation_matrix(galrot).T)
