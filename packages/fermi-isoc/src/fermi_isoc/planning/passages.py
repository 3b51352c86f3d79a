"""SAA passages: intervals when a ground track is inside the SAA polygon.

Predictions sample the sgp4 ground track on a regular grid, then refine each entry and exit
by bisection, so the edges are good to ``tolerance`` seconds whatever the sampling step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fermi_core.mission.saa import LAT_SAA_2008198, SaaPolygon
from fermi_isoc.planning.orbit import Tle, ground_track


@dataclass(frozen=True)
class Passage:
    """One SAA passage.

    Attributes
    ----------
    entry, exit : float
        MET of the polygon entry and exit; for a passage cut by the window edge, the edge.
    starts_inside, ends_inside : bool
        True when the window starts (ends) inside the polygon, so ``entry`` (``exit``) is the
        window edge and not a real crossing.
    """

    entry: float
    exit: float
    starts_inside: bool = False
    ends_inside: bool = False

    @property
    def duration(self) -> float:
        """Seconds inside the polygon within the window."""
        return self.exit - self.entry


def intervals_from_mask(met: np.ndarray, inside: np.ndarray) -> list[tuple[int, int]]:
    """Return ``(first, last)`` sample indices of each run of True in ``inside``."""
    inside = np.asarray(inside, dtype=bool)
    if inside.size == 0:
        return []
    edges = np.diff(inside.astype(np.int8))
    starts = list(np.flatnonzero(edges == 1) + 1)
    stops = list(np.flatnonzero(edges == -1))
    if inside[0]:
        starts.insert(0, 0)
    if inside[-1]:
        stops.append(inside.size - 1)
    return list(zip((int(s) for s in starts), (int(s) for s in stops), strict=True))


def _bisect_edges(
    tle: Tle, polygon: SaaPolygon, t_out: np.ndarray, t_in: np.ndarray, tolerance: float
) -> np.ndarray:
    """Shrink brackets [outside time, inside time] to the crossing, all at once."""
    t_out = t_out.astype(np.float64).copy()
    t_in = t_in.astype(np.float64).copy()
    while t_out.size and np.max(np.abs(t_in - t_out)) > tolerance:
        mid = 0.5 * (t_out + t_in)
        track = ground_track(tle, mid)
        now_in = polygon.contains(track.lat_deg, track.lon_deg)
        t_in = np.where(now_in, mid, t_in)
        t_out = np.where(now_in, t_out, mid)
    return 0.5 * (t_out + t_in)


def predict_saa_passages(
    tle: Tle,
    met_start: float,
    met_stop: float,
    polygon: SaaPolygon = LAT_SAA_2008198,
    step: float = 20.0,
    tolerance: float = 0.1,
) -> list[Passage]:
    """Predict SAA passages in ``[met_start, met_stop)`` from a TLE.

    Parameters
    ----------
    tle : Tle
        Orbit elements.
    met_start, met_stop : float
        The planning window (MET seconds, stop exclusive).
    polygon : SaaPolygon
        The SAA boundary.
    step : float
        Sampling step of the ground track, seconds. Passages shorter than ``step`` can be
        missed; grazes of the polygon corner last a few tens of seconds, so keep it small.
    tolerance : float
        Precision of entry and exit times, seconds.

    Returns
    -------
    list of Passage
        In time order.
    """
    if not met_stop > met_start:
        raise ValueError(f"planning window is empty: start {met_start} >= stop {met_stop}")
    if step <= 0 or tolerance <= 0:
        raise ValueError(f"step ({step}) and tolerance ({tolerance}) must be positive")
    met = np.arange(met_start, met_stop, step, dtype=np.float64)
    track = ground_track(tle, met)
    inside = polygon.contains(track.lat_deg, track.lon_deg)
    runs = intervals_from_mask(met, inside)
    if not runs:
        return []
    first = np.array([a for a, _ in runs])
    last = np.array([b for _, b in runs])
    has_entry = first > 0
    has_exit = last < met.size - 1
    entries = met[first].copy()
    exits = np.where(has_exit, met[np.minimum(last + 1, met.size - 1)], met_stop)
    if np.any(has_entry):
        entries[has_entry] = _bisect_edges(
            tle, polygon, met[first[has_entry] - 1], met[first[has_entry]], tolerance
        )
    if np.any(has_exit):
        exits[has_exit] = _bisect_edges(tle, polygon, met[last[has_exit] + 1], met[last[has_exit]], tolerance)
    return [
        Passage(float(e), float(x), starts_inside=not bool(he), ends_inside=not bool(hx))
        for e, x, he, hx in zip(entries, exits, has_entry, has_exit, strict=True)
    ]


def passages_per_day(passages: list[Passage], met_start: float, met_stop: float) -> dict[str, float]:
    """Summarise passages over a window: count per day, fraction of time inside, durations."""
    days = (met_stop - met_start) / 86400.0
    durations = np.array([p.duration for p in passages], dtype=np.float64)
    return {
        "days": days,
        "passages": len(passages),
        "per_day": len(passages) / days if days > 0 else float("nan"),
        "fraction_inside": float(durations.sum() / (met_stop - met_start)),
        "min_duration_s": float(durations.min()) if durations.size else float("nan"),
        "max_duration_s": float(durations.max()) if durations.size else float("nan"),
    }
