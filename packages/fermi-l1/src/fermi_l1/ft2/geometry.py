"""Earth and Sun geometry of the FT2 rows, through astropy coordinates.

Positions are ECI J2000, taken as GCRS (the frame-bias difference, ~20 mas, is far below the
float32 precision of the FT2 angles). ``LAT_GEO``/``LON_GEO``/``RAD_GEO`` are WGS84 geodetic
latitude, longitude (-180..180, as in real files) and height of the ground point; the zenith is
the geocentric direction of the spacecraft (as ft2Util writes it). The IERS table of the ITRS
transform is astropy's, loaded from a parsed copy (:mod:`.earth_orientation`).
"""

from __future__ import annotations

import numpy as np
from astropy import units as u
from astropy.coordinates import GCRS, ITRS, CartesianRepresentation, get_sun

from fermi_l1.ft2.earth_orientation import ensure_earth_orientation
from fermi_sciencetools_shim.time import met_to_time


def earth_fixed(met: np.ndarray, position_m: np.ndarray) -> dict[str, np.ndarray]:
    """Return the geodetic ground point and the Earth-fixed position of ECI positions.

    Returns
    -------
    dict
        ``LAT_GEO``, ``LON_GEO`` (deg), ``RAD_GEO`` (m, height above the WGS84 ellipsoid),
        ``itrs`` (``(m, 3)`` metres) and ``decimal_year``.
    """
    ensure_earth_orientation()
    t = met_to_time(np.asarray(met, dtype=np.float64))
    p = np.asarray(position_m, dtype=np.float64)
    gcrs = GCRS(CartesianRepresentation(p[:, 0] * u.m, p[:, 1] * u.m, p[:, 2] * u.m), obstime=t)
    itrs = gcrs.transform_to(ITRS(obstime=t))
    location = itrs.earth_location
    geo = location.to_geodetic("WGS84")
    lon = ((geo.lon.to_value(u.deg) + 180.0) % 360.0) - 180.0
    xyz = np.stack([c.to_value(u.m) for c in (itrs.cartesian.x, itrs.cartesian.y, itrs.cartesian.z)], axis=1)
    return {
        "LAT_GEO": geo.lat.to_value(u.deg),
        "LON_GEO": lon,
        "RAD_GEO": geo.height.to_value(u.m),
        "itrs": xyz,
        "decimal_year": t.utc.decimalyear,
    }


def sun_radec(met: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the geocentric apparent RA/Dec (deg) of the Sun at MET times (astropy ``get_sun``)."""
    sun = get_sun(met_to_time(np.asarray(met, dtype=np.float64)))
    return sun.ra.to_value(u.deg) % 360.0, sun.dec.to_value(u.deg)
