"""The LAT South Atlantic Anomaly polygon, kept as versioned data, and the point-in-polygon test.

The LAT takes no science data while the spacecraft is inside this polygon (geographic latitude,
east longitude, degrees). Flight operations update the on-board copy about monthly; each version
here records when it became valid and where it comes from, so a planning run states which one it
used. The April 2017 polygon is within ~0.25 deg of ``L_SAA_2008198.03``, so the simulator uses
that one for every epoch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LAT_SAA_2008198", "POLYGONS", "SaaPolygon", "points_in_polygon", "polygon_for", "wrap_longitude"]


def wrap_longitude(lon: np.ndarray | float) -> np.ndarray:
    """Return east longitudes wrapped to [-180, 180) degrees."""
    return (np.asarray(lon, dtype=np.float64) + 180.0) % 360.0 - 180.0


def points_in_polygon(
    lat: np.ndarray | float, lon: np.ndarray | float, poly_lat: np.ndarray, poly_lon: np.ndarray
) -> np.ndarray:
    """Even-odd test of points against a polygon in the (longitude, latitude) plane.

    Parameters
    ----------
    lat, lon : array_like
        Points in degrees; longitudes are wrapped to [-180, 180).
    poly_lat, poly_lon : numpy.ndarray
        Vertices in degrees, in order (the last joins the first), the polygon not crossing the
        antimeridian.

    Returns
    -------
    numpy.ndarray of bool
        Same shape as the broadcast points. Points exactly on an edge may fall either way.
    """
    y = np.asarray(lat, dtype=np.float64)
    x = wrap_longitude(lon)
    vy = np.asarray(poly_lat, dtype=np.float64)
    vx = np.asarray(poly_lon, dtype=np.float64)
    inside = np.zeros(np.broadcast(y, x).shape, dtype=bool)
    for k in range(vx.size):
        x0, y0 = vx[k], vy[k]
        x1, y1 = vx[(k + 1) % vx.size], vy[(k + 1) % vx.size]
        straddles = (y0 > y) != (y1 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_cross = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        inside ^= straddles & (x < x_cross)
    return inside


@dataclass(frozen=True)
class SaaPolygon:
    """One version of the SAA polygon.

    Attributes
    ----------
    name : str
        Identifier of the version (the FSSC file name).
    valid_from : str
        UTC date from which flight operations used it.
    source : str
        Where the vertices come from.
    lat_deg, lon_deg : tuple of float
        Vertices in degrees (geographic latitude, east longitude), in order; the polygon closes
        from the last vertex back to the first.
    """

    name: str
    valid_from: str
    source: str
    lat_deg: tuple[float, ...]
    lon_deg: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.lat_deg) != len(self.lon_deg):
            raise ValueError(
                f"SAA polygon {self.name}: {len(self.lat_deg)} latitudes but {len(self.lon_deg)} longitudes"
            )
        if len(self.lat_deg) < 3:
            raise ValueError(f"SAA polygon {self.name}: needs at least 3 vertices, has {len(self.lat_deg)}")
        if np.any(np.abs(np.asarray(self.lat_deg)) > 90):
            raise ValueError(f"SAA polygon {self.name}: latitude outside [-90, 90] degrees")

    def contains(self, lat_deg: np.ndarray | float, lon_deg: np.ndarray | float) -> np.ndarray:
        """Return True where the points (degrees) lie inside the polygon.

        Longitudes are wrapped to [-180, 180), the range the polygon is written in (it does
        not cross the antimeridian); see :func:`points_in_polygon`.
        """
        return points_in_polygon(lat_deg, lon_deg, np.asarray(self.lat_deg), np.asarray(self.lon_deg))


#: The LAT SAA polygon of FSSC file ``L_SAA_2008198.03`` (12 vertices, as recorded in
#: ``shared/design/isoc.md``). Vertices 3 to 7 have positive latitudes: a public copy with those
#: signs flipped exists and is wrong.
LAT_SAA_2008198 = SaaPolygon(
    name="L_SAA_2008198.03",
    valid_from="2008-07-16",
    source="FSSC L_SAA_2008198.03 (LAT SAA boundary, geographic latitude / east longitude)",
    lat_deg=(-30.0, -22.6, 2.5, 5.2, 5.2, 4.6, 0.7, -8.6, -9.9, -12.5, -21.7, -30.0),
    lon_deg=(33.9, 24.5, -18.6, -25.7, -36.0, -42.0, -58.8, -93.1, -97.5, -98.5, -92.1, -86.1),
)

#: Known versions, oldest first; :func:`polygon_for` picks the one valid at a date.
POLYGONS: tuple[SaaPolygon, ...] = (LAT_SAA_2008198,)


def polygon_for(utc_date: str) -> SaaPolygon:
    """Return the newest known polygon valid on ``utc_date`` (ISO ``YYYY-MM-DD...``).

    Raises
    ------
    ValueError
        When the date is before the oldest known version.
    """
    valid = [p for p in POLYGONS if p.valid_from <= utc_date[:10]]
    if not valid:
        raise ValueError(
            f"no SAA polygon valid on {utc_date[:10]}: the oldest starts {POLYGONS[0].valid_from}"
        )
    return valid[-1]
