"""Geomagnetic quantities of FT2 from a centred-dipole field (documented approximation).

The real L1 (ft2Util) uses the full IGRF field with McIlwain's invariant; here the field is the
IGRF **dipole** terms only (g10, g11, h11, linearly interpolated between IGRF epochs):

* magnetic latitude ``lambda_m``: ``sin(lambda_m) = r_hat . m_hat`` with ``m_hat`` the unit vector
  to the boreal geomagnetic pole, ``-(g11, h11, g10) / B0`` in the Earth-fixed (ITRS) frame;
* ``B_MCILWAIN`` = ``B / B_eq = sqrt(1 + 3 sin^2 lambda_m) / cos^6 lambda_m``, the field normalised
  to the equatorial field of the same dipole shell. Real FT2 files hold this kind of value
  (1 to 6 along the Fermi orbit, median ratio 0.97 to this formula on the 2014 week w323), although
  their ``TUNIT`` says Gauss; the physical field (0.2-0.35 G) is returned as ``B_GAUSS``;
* ``L_MCILWAIN`` = ``(r / R_E) / cos^2 lambda_m`` (dipole field line apex, Earth radii);
* ``GEOMAG_LAT`` = invariant latitude ``arccos(sqrt(1 / L))`` (deg, >= 0);
* ``LAMBDA`` = ``lambda_m``, signed (deg, + = north).

``R_E`` = 6371.2 km (the IGRF reference radius). Against a real 2014 FT2 week, L agrees to a
few percent (median) and LAMBDA correlates at 0.98; do not use these values for SAA decisions.
"""

from __future__ import annotations

import numpy as np

#: IGRF reference radius, metres.
EARTH_RADIUS_M = 6371.2e3

# IGRF dipole Gauss coefficients (nT) at epochs (decimal year): g10, g11, h11.
_EPOCHS = np.array([2000.0, 2005.0, 2010.0, 2015.0, 2020.0, 2025.0])
_G10 = np.array([-29619.4, -29554.63, -29496.57, -29441.46, -29404.8, -29350.0])
_G11 = np.array([-1728.2, -1669.05, -1586.42, -1501.77, -1450.9, -1410.3])
_H11 = np.array([5186.1, 5077.99, 4944.26, 4795.99, 4652.5, 4545.5])


def dipole_axis(decimal_year: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the unit vectors to the boreal geomagnetic pole (ITRS, ``(m, 3)``) and B0 (nT, ``(m,)``)."""
    y = np.asarray(decimal_year, dtype=np.float64)

    # linear between epochs; beyond the table, continue the last interval's secular variation
    def interp(c: np.ndarray) -> np.ndarray:
        slope_lo = (c[1] - c[0]) / (_EPOCHS[1] - _EPOCHS[0])
        slope_hi = (c[-1] - c[-2]) / (_EPOCHS[-1] - _EPOCHS[-2])
        out = np.interp(y, _EPOCHS, c)
        out = np.where(y < _EPOCHS[0], c[0] + slope_lo * (y - _EPOCHS[0]), out)
        return np.where(y > _EPOCHS[-1], c[-1] + slope_hi * (y - _EPOCHS[-1]), out)

    g10, g11, h11 = interp(_G10), interp(_G11), interp(_H11)
    b0 = np.sqrt(g10**2 + g11**2 + h11**2)
    axis = -np.stack([g11, h11, g10], axis=1) / b0[:, None]
    return axis, b0


def dipole_quantities(itrs_position_m: np.ndarray, decimal_year: np.ndarray) -> dict[str, np.ndarray]:
    """Return ``B_MCILWAIN`` (B/B_eq), ``L_MCILWAIN`` (R_E), ``GEOMAG_LAT``, ``LAMBDA`` (deg), ``B_GAUSS``.

    Parameters
    ----------
    itrs_position_m
        ``(m, 3)`` Earth-fixed positions in metres.
    decimal_year
        ``(m,)`` epochs (for the secular variation of the dipole).
    """
    r_vec = np.asarray(itrs_position_m, dtype=np.float64)
    r = np.linalg.norm(r_vec, axis=1)
    axis, b0 = dipole_axis(np.broadcast_to(decimal_year, r.shape))
    sin_lat = np.clip(np.sum(r_vec * axis, axis=1) / r, -1.0, 1.0)
    cos2 = np.maximum(1.0 - sin_lat**2, 1e-12)
    rho = r / EARTH_RADIUS_M
    b_gauss = b0 * 1e-5 * rho**-3 * np.sqrt(1.0 + 3.0 * sin_lat**2)
    shell = rho / cos2
    invariant = np.degrees(np.arccos(np.sqrt(np.clip(1.0 / shell, 0.0, 1.0))))
    return {
        "B_MCILWAIN": np.sqrt(1.0 + 3.0 * sin_lat**2) / cos2**3,
        "B_GAUSS": b_gauss,
        "L_MCILWAIN": shell,
        "GEOMAG_LAT": invariant,
        "LAMBDA": np.degrees(np.arcsin(sin_lat)),
    }
