"""Good Time Interval algebra with the ScienceTools (evtbin ``Gti``) rules.

* Consolidation merges an interval whose start is <= the previous stop (touching
  intervals merge); for equal starts the larger stop wins.
* Intersection keeps only real overlaps: intervals that merely touch give nothing.
* Event acceptance is closed on both ends, ``START <= t <= STOP``.
* ``ONTIME`` is the sum of ``STOP - START``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Gti:
    """Sorted, non-overlapping good time intervals (MET seconds).

    Build with :meth:`from_intervals` (which consolidates) rather than directly.
    """

    start: np.ndarray
    stop: np.ndarray

    def __post_init__(self) -> None:
        start = np.ascontiguousarray(self.start, dtype=np.float64)
        stop = np.ascontiguousarray(self.stop, dtype=np.float64)
        if start.shape != stop.shape or start.ndim != 1:
            raise ValueError("GTI start and stop must be 1-d arrays of the same length")
        if np.any(stop < start):
            i = int(np.argmax(stop < start))
            raise ValueError(f"GTI interval {i} ends before it starts ({start[i]!r} > {stop[i]!r})")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "stop", stop)

    @classmethod
    def empty(cls) -> Gti:
        """Return a GTI with no interval."""
        return cls(np.empty(0), np.empty(0))

    @classmethod
    def from_intervals(cls, start: Iterable[float], stop: Iterable[float]) -> Gti:
        """Return the consolidated GTI of possibly unsorted, overlapping intervals."""
        return consolidate(
            np.asarray(list(start) if not isinstance(start, np.ndarray) else start),
            np.asarray(list(stop) if not isinstance(stop, np.ndarray) else stop),
        )

    def __len__(self) -> int:
        return int(self.start.size)

    @property
    def ontime(self) -> float:
        """Sum of the interval lengths (the ``ONTIME`` keyword)."""
        return float(np.sum(self.stop - self.start))

    @property
    def tmin(self) -> float:
        """Start of the first interval."""
        return float(self.start[0])

    @property
    def tmax(self) -> float:
        """Stop of the last interval."""
        return float(self.stop[-1])

    def contains(self, times: np.ndarray) -> np.ndarray:
        """Return a mask of ``times`` inside some interval, closed on both ends."""
        t = np.asarray(times, dtype=np.float64)
        if len(self) == 0:
            return np.zeros(t.shape, dtype=bool)
        i = np.searchsorted(self.start, t, side="right") - 1
        ok = i >= 0
        ic = np.clip(i, 0, None)
        return ok & (t <= self.stop[ic])

    def covered(self, t: np.ndarray) -> np.ndarray:
        """Return the length of GTI time before each ``t`` (cumulative coverage)."""
        t = np.asarray(t, dtype=np.float64)
        if len(self) == 0:
            return np.zeros(t.shape)
        lengths = np.concatenate(([0.0], np.cumsum(self.stop - self.start)))
        i = np.searchsorted(self.start, t, side="right")  # intervals starting at or before t
        before = lengths[np.clip(i - 1, 0, None)]
        inside = np.where(
            i > 0,
            np.clip(
                t - self.start[np.clip(i - 1, 0, None)],
                0.0,
                (self.stop - self.start)[np.clip(i - 1, 0, None)],
            ),
            0.0,
        )
        return np.where(i > 0, before + inside, 0.0)

    def overlap(self, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
        """Return, per ``[start, stop]`` interval, how many seconds of it are in the GTI."""
        return np.maximum(self.covered(stop) - self.covered(start), 0.0)

    def overlap_fraction(self, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
        """Return overlap / (stop - start), capped at 1 (0 for empty intervals).

        This is the livetime weight of an FT2 row (gtbin ``EXPOSURE``, gtltcube).
        """
        start = np.asarray(start, dtype=np.float64)
        stop = np.asarray(stop, dtype=np.float64)
        dur = stop - start
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(dur > 0, self.overlap(start, stop) / np.where(dur > 0, dur, 1.0), 0.0)
        return np.minimum(frac, 1.0)

    def clip(self, tmin: float, tmax: float) -> Gti:
        """Return the intersection with the single interval ``[tmin, tmax]``."""
        return intersection(self, Gti(np.array([tmin]), np.array([tmax])))


def consolidate(start: np.ndarray, stop: np.ndarray) -> Gti:
    """Sort intervals and merge the ones that overlap or touch (``start <= previous stop``)."""
    start = np.asarray(start, dtype=np.float64).ravel()
    stop = np.asarray(stop, dtype=np.float64).ravel()
    if start.size == 0:
        return Gti.empty()
    order = np.lexsort((-stop, start))  # by start, larger stop first for equal starts
    s, e = start[order], stop[order]
    run_max = np.maximum.accumulate(e)
    new = np.ones(s.size, dtype=bool)
    new[1:] = s[1:] > run_max[:-1]
    first = np.flatnonzero(new)
    last = np.append(first[1:] - 1, s.size - 1)
    return Gti(s[first], run_max[last])


def union(*gtis: Gti) -> Gti:
    """Return the consolidated union of GTIs."""
    if not gtis:
        return Gti.empty()
    return consolidate(np.concatenate([g.start for g in gtis]), np.concatenate([g.stop for g in gtis]))


def intersection(a: Gti, b: Gti) -> Gti:
    """Return the intersection of two GTIs; intervals that only touch do not overlap.

    Both inputs must be sorted with non-overlapping intervals (what :func:`consolidate`
    and real GTI extensions give). Vectorised: for every interval of ``a`` the intervals
    of ``b`` that overlap it are found with two binary searches.
    """
    if len(a) == 0 or len(b) == 0:
        return Gti.empty()
    # b intervals j overlapping a interval i: b.stop[j] > a.start[i] and b.start[j] < a.stop[i]
    j_lo = np.searchsorted(b.stop, a.start, side="right")
    j_hi = np.searchsorted(b.start, a.stop, side="left")
    counts = np.maximum(j_hi - j_lo, 0)
    if counts.sum() == 0:
        return Gti.empty()
    i = np.repeat(np.arange(len(a)), counts)
    offsets = np.arange(i.size) - np.repeat(np.cumsum(counts) - counts, counts)
    j = np.repeat(j_lo, counts) + offsets
    lo = np.maximum(a.start[i], b.start[j])
    hi = np.minimum(a.stop[i], b.stop[j])
    keep = lo < hi
    return consolidate(lo[keep], hi[keep])
