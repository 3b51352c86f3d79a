"""Check an FT2 file's ground track against the SAA polygon and its data gaps.

The LAT stops taking data at SAA entry and restarts at exit, so in a real FT2 no row lies inside
the polygon and every long gap (an SAA passage lasts 0.5-32 min) holds a polygon passage. Inside
a gap there are no rows, so the track is rebuilt from the spacecraft positions on both sides: an
arc in the inertial frame at uniform angular rate (:func:`fermi_core.mission.pointing.arc`; a
near-circular orbit; gaps are shorter than half an orbit), turned into geodetic coordinates with
astropy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import GCRS, ITRS, CartesianRepresentation

from fermi_core.mission.pointing import arc
from fermi_core.mission.saa import LAT_SAA_2008198, SaaPolygon
from fermi_isoc.planning.passages import Passage, intervals_from_mask
from fermi_sciencetools_shim.io.ft2 import read_ft2
from fermi_sciencetools_shim.time import met_to_time


@dataclass(frozen=True)
class GapPassage:
    """A gap between FT2 rows and the SAA passage found inside it (if any).

    Attributes
    ----------
    gap_start, gap_stop : float
        MET of the STOP of the row before and the START of the row after.
    passage : Passage or None
        Polygon entry and exit of the rebuilt track inside the gap.
    """

    gap_start: float
    gap_stop: float
    passage: Passage | None

    @property
    def duration(self) -> float:
        """Length of the gap, seconds."""
        return self.gap_stop - self.gap_start


@dataclass
class Ft2SaaReport:
    """Outcome of :func:`check_ft2_saa`.

    Attributes
    ----------
    n_rows : int
        Rows in the file.
    rows_inside : numpy.ndarray
        Indices of rows whose LAT_GEO/LON_GEO lie inside the polygon (should be empty).
    long_gaps : list of GapPassage
        Gaps longer than the threshold, each with the passage found inside.
    short_gaps : list of GapPassage
        Gaps between ``min_gap_s`` and the threshold, with any passage found inside.
    """

    n_rows: int
    rows_inside: np.ndarray
    long_gaps: list[GapPassage] = field(default_factory=list)
    short_gaps: list[GapPassage] = field(default_factory=list)

    @property
    def unmatched_long_gaps(self) -> list[GapPassage]:
        """Long gaps with no polygon passage inside: data lost for another reason."""
        return [g for g in self.long_gaps if g.passage is None]

    @property
    def ok(self) -> bool:
        """True when no row is inside and every long gap holds a passage."""
        return self.rows_inside.size == 0 and not self.unmatched_long_gaps


def inertial_to_geodetic(met: np.ndarray, position_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return geodetic (lat, lon) in degrees of inertial (GCRS/J2000) positions in metres."""
    t = met_to_time(np.asarray(met, dtype=np.float64))
    cart = CartesianRepresentation(np.asarray(position_m, dtype=np.float64).T * u.m)
    geo = GCRS(cart, obstime=t).transform_to(ITRS(obstime=t)).earth_location.geodetic
    lon = (geo.lon.to_value(u.deg) + 180.0) % 360.0 - 180.0
    return geo.lat.to_value(u.deg), lon


def gap_track(
    t0: float, r0: np.ndarray, t1: float, r1: np.ndarray, step: float = 5.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rebuild the track between two known positions: ``(met, lat, lon)`` every ``step`` s."""
    met = np.append(np.arange(t0, t1, step), t1)
    lat, lon = inertial_to_geodetic(met, arc(np.array([t0, t1]), np.stack([r0, r1]), met))
    return met, lat, lon


def check_ft2_saa(
    path: str | Path,
    polygon: SaaPolygon = LAT_SAA_2008198,
    long_gap_s: float = 300.0,
    min_gap_s: float = 1.0,
    step: float = 5.0,
) -> Ft2SaaReport:
    """Compare an FT2's rows and gaps with the SAA polygon.

    Parameters
    ----------
    path : str or Path
        FT2 file (SC_DATA with START, STOP, SC_POSITION, LAT_GEO, LON_GEO).
    polygon : SaaPolygon
        The SAA boundary.
    long_gap_s : float
        Gaps longer than this must hold a polygon passage.
    min_gap_s : float
        Shorter discontinuities between rows are ignored.
    step : float
        Sampling of the rebuilt track inside gaps, seconds.

    Notes
    -----
    The track across a gap runs from the SC_POSITION of the row before (at its START) to that
    of the row after (at its START). On the week-323 FT2 the polygon entry falls 29-35 s after
    the data stop and the exit 34-38 s before the restart: the LAT run stops and starts just
    outside the polygon.
    """
    table = read_ft2(path)
    start = np.asarray(table["START"], dtype=np.float64)
    stop = np.asarray(table["STOP"], dtype=np.float64)
    pos = np.asarray(table["SC_POSITION"], dtype=np.float64)
    inside_rows = np.flatnonzero(polygon.contains(table["LAT_GEO"], table["LON_GEO"]))
    report = Ft2SaaReport(n_rows=start.size, rows_inside=inside_rows)
    gaps = np.flatnonzero(start[1:] - stop[:-1] > min_gap_s)
    for i in gaps:
        met, lat, lon = gap_track(start[i], pos[i], start[i + 1], pos[i + 1], step=step)
        runs = intervals_from_mask(met, polygon.contains(lat, lon))
        passage = None
        if runs:
            a, b = runs[0][0], runs[-1][1]
            passage = Passage(float(met[a]), float(met[b]))
        gp = GapPassage(float(stop[i]), float(start[i + 1]), passage)
        (report.long_gaps if gp.duration > long_gap_s else report.short_gaps).append(gp)
    return report
