"""The LAT South Atlantic Anomaly polygon, kept as versioned data, and point-in-polygon tests.

The LAT takes no science data while the spacecraft is inside this polygon (geographic latitude,
east longitude, degrees). Flight operations update the on-board copy about monthly; each version
here records when it became valid and where it comes from, so a planning run states which one it
used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
    lat, lon : tuple of float
        Vertices in degrees (geographic latitude, east longitude), in order; the polygon closes
        from the last vertex back to the first.
    """

    name: str
    valid_from: str
    source: str
    lat: tuple[float, ...]
    lon: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.lat) != len(self.lon):
            raise ValueError(
                f"SAA polygon {self.name}: {len(self.lat)} latitudes but {len(self.lon)} longitudes"
            )
        if len(self.lat) < 3:
            raise ValueError(f"SAA polygon {self.name}: needs at least 3 vertices, has {len(self.lat)}")
        lat = np.asarray(self.lat)
        if np.any(np.abs(lat) > 90):
            raise ValueError(f"SAA polygon {self.name}: latitude outside [-90, 90] degrees")

    def contains(self, lat: np.ndarray | float, lon: np.ndarray | float) -> np.ndarray:
        """Return True where the points (degrees) lie inside the polygon.

        Longitudes are wrapped to [-180, 180), the range the polygon is written in (it does
        not cross the antimeridian). Even-odd ray casting; points exactly on an edge may fall
        either way.
        """
        return points_in_polygon(lat, lon, np.asarray(self.lat), np.asarray(self.lon))


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
        Vertices in degrees, the polygon not crossing the antimeridian.

    Returns
    -------
    numpy.ndarray of bool
        Same shape as the broadcast points.
    """
    y, x = np.broadcast_arrays(np.asarray(lat, dtype=np.float64), wrap_longitude(lon))
    inside = np.zeros(y.shape, dtype=bool)
    yj, xj = np.roll(poly_lat, 1), np.roll(poly_lon, 1)
    for yi0, xi0, yj0, xj0 in zip(poly_lat, poly_lon, yj, xj, strict=True):
        if yi0 == yj0:
            continue  # a horizontal edge never crosses a horizontal ray
        crosses = (yi0 > y) != (yj0 > y)
        x_cross = xi0 + (y - yi0) * (xj0 - xi0) / (yj0 - yi0)
        inside ^= crosses & (x < x_cross)
    return inside


#: The LAT SAA polygon of FSSC file ``L_SAA_2008198.03`` (12 vertices). Vertices 3 to 7 have
#: positive latitudes: a public copy with those signs flipped exists and is wrong.
LAT_SAA_2008198 = SaaPolygon(
    name="L_SAA_2008198.03",
    valid_from="2008-07-16",
    source="FSSC L_SAA_2008198.03 (LAT SAA boundary, geographic latitude / east longitude)",
    lat=(-30.0, -22.6, 2.5, 5.2, 5.2, 4.6, 0.7, -8.6, -9.9, -12.5, -21.7, -30.0),
    lon=(33.9, 24.5, -18.6, -25.7, -36.0, -42.0, -58.8, -93.1, -97.5, -98.5, -92.1, -86.1),
)

#: Known versions, oldest first; ``polygon_for`` picks the one valid at a date.
POLYGONS: tuple[SaaPolygon, ...] = (LAT_SAA_2008198,)


def polygon_for(utc_date: str) -> SaaPolygon:
    """Return the newest known polygon valid on ``utc_date`` (ISO ``YYYY-MM-DD...``)."""
    valid = [p for p in POLYGONS if p.valid_from <= utc_date[:10]]
    if not valid:
        raise ValueError(
            f"no SAA polygon valid on {utc_date[:10]}: the oldest starts {POLYGONS[0].valid_from}"
        )
    return valid[-1]
