"""The LAT's South Atlantic Anomaly polygon (versioned data) and SAA passages along an orbit.

The LAT stops taking data while the spacecraft is inside this polygon. The vertices are the
FSSC file ``L_SAA_2008198.03`` (valid from 2008 day 198), 12 vertices in geographic latitude /
east longitude, as recorded in ``shared/design/isoc.md``. Vertices 3 to 7 have *positive*
latitudes (one public copy flips their signs). Flight operations update the on-board copy about
monthly; the April 2017 polygon is within ~0.25° of this one, so it is used for every epoch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SAAPolygon:
    """A versioned SAA polygon: closed implicitly (last vertex joins the first)."""

    name: str
    valid_from: str
    source: str
    lat_deg: tuple[float, ...]
    lon_deg: tuple[float, ...]

    def contains(self, lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
        """Return a boolean array: is each (latitude, east longitude) point inside the polygon?

        Even-odd ray casting in the (longitude, latitude) plane; the polygon does not cross the
        ±180° meridian, so longitudes are taken in [-180, 180).
        """
        lat = np.asarray(lat_deg, dtype=np.float64)
        lon = (np.asarray(lon_deg, dtype=np.float64) + 180.0) % 360.0 - 180.0
        vy = np.asarray(self.lat_deg)
        vx = np.asarray(self.lon_deg)
        inside = np.zeros(np.broadcast(lat, lon).shape, dtype=bool)
        for k in range(vx.size):
            x0, y0 = vx[k], vy[k]
            x1, y1 = vx[(k + 1) % vx.size], vy[(k + 1) % vx.size]
            straddles = (y0 > lat) != (y1 > lat)
            with np.errstate(divide="ignore", invalid="ignore"):
                x_cross = x0 + (lat - y0) * (x1 - x0) / (y1 - y0)
            inside ^= straddles & (lon < x_cross)
        return inside


#: The LAT SAA polygon of FSSC file ``L_SAA_2008198.03``.
LAT_SAA_2008198 = SAAPolygon(
    name="L_SAA_2008198.03",
    valid_from="2008-07-16",
    source="FSSC L_SAA_2008198.03 (via shared/design/isoc.md)",
    lat_deg=(-30.0, -22.6, 2.5, 5.2, 5.2, 4.6, 0.7, -8.6, -9.9, -12.5, -21.7, -30.0),
    lon_deg=(33.9, 24.5, -18.6, -25.7, -36.0, -42.0, -58.8, -93.1, -97.5, -98.5, -92.1, -86.1),
)


def passages(met: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Return the SAA passages as an (n, 2) array of MET ``[entry, exit)``.

    ``met`` is a sorted sampling of the orbit and ``inside`` the polygon test at those samples;
    an entry is the first sample inside, an exit the first sample outside after it. A passage
    already under way at the first sample starts there; one still under way at the last sample
    ends at the last sample.
    """
    met = np.asarray(met, dtype=np.float64)
    inside = np.asarray(inside, dtype=bool)
    if met.shape != inside.shape:
        raise ValueError(f"parameters 'met' and 'inside': shapes {met.shape} and {inside.shape} differ")
    if met.size == 0:
        return np.empty((0, 2))
    edges = np.diff(inside.astype(np.int8))
    starts = list(np.flatnonzero(edges == 1) + 1)
    stops = list(np.flatnonzero(edges == -1) + 1)
    if inside[0]:
        starts.insert(0, 0)
    entry = met[starts]
    exit_ = met[stops] if len(stops) == len(starts) else np.append(met[stops], met[-1])
    return np.column_stack([entry, exit_])
