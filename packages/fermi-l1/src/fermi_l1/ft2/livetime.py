"""FT2 ``LIVETIME`` per row from the GEM livetime counters carried by every event.

Each event carries the GEM ``livetime`` scaler (50 ns ticks since the run start). Between two
consecutive events the instrument was live for the difference of their counters; that
livetime is spread linearly over the interval, and the cumulative curve is read at the row
edges. An interval between events longer than ``max_gap`` seconds is a hole in the data (lost
datagrams, or SAA): its livetime is not credited, so rows inside it get ``LIVETIME = 0`` (as the
L1 makeFT2 turns gaps of digi/merit into zero-livetime rows).
"""

from __future__ import annotations

import numpy as np

#: Seconds per GEM scaler tick (20 MHz clock).
GEM_TICK_S = 50e-9


def cumulative_livetime(event_met: np.ndarray, livetime_s: np.ndarray, max_gap: float) -> np.ndarray:
    """Return the credited cumulative livetime at each event (seconds, starts at 0)."""
    t = np.asarray(event_met, dtype=np.float64)
    lt = np.asarray(livetime_s, dtype=np.float64)
    if t.size == 0:
        return lt.copy()
    step = np.diff(lt)
    if np.any(step < 0):
        k = int(np.argmax(step < 0))
        raise ValueError(
            f"livetime counter decreases between events {k} and {k + 1} ({lt[k]!r} -> {lt[k + 1]!r})"
        )
    step[np.diff(t) > max_gap] = 0.0
    return np.concatenate(([0.0], np.cumsum(step)))


def row_livetime(
    start: np.ndarray,
    stop: np.ndarray,
    event_met: np.ndarray,
    livetime_s: np.ndarray,
    max_gap: float = 1.0,
) -> np.ndarray:
    """Return the livetime (seconds) within each ``[start, stop)`` row.

    Parameters
    ----------
    start, stop
        Row edges (MET), contiguous or not.
    event_met
        Event times, sorted (MET).
    livetime_s
        GEM livetime counters of those events in seconds since the run start (ticks times
        :data:`GEM_TICK_S`; the merit/FT1 ``LIVETIME`` column), non-decreasing.
    max_gap
        Longer event-to-event intervals are data holes whose livetime is not credited.
    """
    t = np.asarray(event_met, dtype=np.float64)
    if t.size and np.any(np.diff(t) < 0):
        raise ValueError("event times must be sorted")
    cum = cumulative_livetime(t, np.asarray(livetime_s, dtype=np.float64), max_gap)
    if t.size < 2:
        return np.zeros(np.shape(start))
    lo = np.interp(np.asarray(start, dtype=np.float64), t, cum)
    hi = np.interp(np.asarray(stop, dtype=np.float64), t, cum)
    return np.maximum(hi - lo, 0.0)
