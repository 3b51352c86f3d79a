"""The LAT South Atlantic Anomaly polygon, kept as versioned data, and the point-in-polygon test.

The LAT takes no science data while the spacecraft is inside this polygon (geographic latitude,
east longitude, degrees). Flight operations update the on-board copy about monthly; each version
is a data file (``saa_polygons/*.toml`` beside this module: name, valid-from date, source,
vertices) and :func:`polygon_for` picks the one valid at a date, so a planning run states which
one it used and a new version needs no code change. The April 2017 polygon is within ~0.25 deg
of ``L_SAA_2008198.03``, so the simulator uses that one for every epoch.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import date, datetime
from itertools import pairwise
from pathlib import Path

import numpy as np

from fermi_core.errors import BadInput

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "LAT_SAA_2008198",
    "POLYGONS",
    "POLYGON_DIR",
    "SaaPolygon",
    "SaaPolygonError",
    "load_polygons",
    "points_in_polygon",
    "polygon_for",
    "read_polygon",
    "wrap_longitude",
]


class SaaPolygonError(BadInput, ValueError):
    """An SAA polygon file that cannot be used: names the file and the reason."""


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


def _date(utc_date: str | date | datetime) -> str:
    if isinstance(utc_date, datetime):
        return utc_date.date().isoformat()
    if isinstance(utc_date, date):
        return utc_date.isoformat()
    return str(utc_date)[:10]


def read_polygon(path: str | Path) -> SaaPolygon:
    """Read one polygon version from a TOML file.

    The file holds ``name``, ``valid_from`` (UTC date ``YYYY-MM-DD``), ``source``, and the
    vertex lists ``lat_deg`` and ``lon_deg`` (geographic latitude, east longitude, degrees);
    see ``saa_polygons/L_SAA_2008198.03.toml`` beside this module.

    Raises
    ------
    SaaPolygonError
        When the file cannot be read or a key is missing or malformed; the message names the file.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SaaPolygonError(f"{path}: cannot read SAA polygon: {exc}") from exc
    missing = [k for k in ("name", "valid_from", "source", "lat_deg", "lon_deg") if k not in data]
    if missing:
        raise SaaPolygonError(f"{path}: SAA polygon lacks {', '.join(missing)}")
    try:
        valid_from = date.fromisoformat(str(data["valid_from"])).isoformat()
        return SaaPolygon(
            name=str(data["name"]),
            valid_from=valid_from,
            source=str(data["source"]),
            lat_deg=tuple(float(v) for v in data["lat_deg"]),
            lon_deg=tuple(float(v) for v in data["lon_deg"]),
        )
    except (TypeError, ValueError) as exc:
        raise SaaPolygonError(f"{path}: bad SAA polygon: {exc}") from exc


def load_polygons(*folders: str | Path) -> tuple[SaaPolygon, ...]:
    """Read every ``*.toml`` polygon of the shipped folder and of ``folders``, oldest first.

    Two versions with the same ``valid_from`` are an error (which one applies would be a guess).
    """
    paths = sorted(POLYGON_DIR.glob("*.toml"))
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            raise SaaPolygonError(f"{folder}: SAA polygon folder does not exist")
        paths += sorted(folder.glob("*.toml"))
    polygons = sorted((read_polygon(p) for p in paths), key=lambda p: p.valid_from)
    for a, b in pairwise(polygons):
        if a.valid_from == b.valid_from:
            raise SaaPolygonError(f"SAA polygons {a.name} and {b.name} are both valid from {a.valid_from}")
    return tuple(polygons)


#: Folder of the shipped polygon versions (package data of fermi-core, one TOML file each).
POLYGON_DIR = Path(__file__).with_name("saa_polygons")

#: Known versions, oldest first; :func:`polygon_for` picks the one valid at a date.
POLYGONS: tuple[SaaPolygon, ...] = load_polygons()

#: The LAT SAA polygon of FSSC file ``L_SAA_2008198.03`` (12 vertices, as recorded in
#: ``shared/design/isoc.md``), read from its data file. The April 2017 on-board polygon is within
#: ~0.25 deg of it, so the simulator uses it for every epoch.
LAT_SAA_2008198 = next(p for p in POLYGONS if p.name == "L_SAA_2008198.03")


def polygon_for(
    utc_date: str | date | datetime, polygons: tuple[SaaPolygon, ...] | None = None
) -> SaaPolygon:
    """Return the newest polygon valid on ``utc_date`` (ISO ``YYYY-MM-DD...``, a date or datetime).

    Parameters
    ----------
    utc_date
        The date the polygon is wanted for (UTC).
    polygons
        Versions to choose from (default :data:`POLYGONS`, the shipped ones; pass
        ``load_polygons(folder)`` to add an operator's folder of new versions).

    Raises
    ------
    ValueError
        When the date is before the oldest known version.
    """
    polygons = POLYGONS if polygons is None else polygons
    day = _date(utc_date)
    valid = [p for p in polygons if p.valid_from <= day]
    if not valid:
        oldest = polygons[0].valid_from if polygons else "(none known)"
        raise ValueError(f"no SAA polygon valid on {day}: the oldest starts {oldest}")
    return valid[-1]
