"""Closed integer intervals ``[lo, hi]`` on the GEM sequence axis (sorted, disjoint lists)."""

from __future__ import annotations

import numpy as np

#: Upper end of "to the end of the run" (fits a signed 64-bit database column).
INF = (1 << 63) - 1

Intervals = list[tuple[int, int]]


def normalise(iv: Intervals) -> Intervals:
    """Sort and join overlapping or adjacent intervals."""
    out: Intervals = []
    for lo, hi in sorted(iv):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def intersect(a: Intervals, b: Intervals) -> Intervals:
    """Intersection of two interval lists."""
    out: Intervals = []
    i = j = 0
    a, b = normalise(a), normalise(b)
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def subtract(a: Intervals, b: Intervals) -> Intervals:
    """Parts of ``a`` outside every interval of ``b``."""
    out: Intervals = []
    b = normalise(b)
    for lo, hi in normalise(a):
        cur = lo
        for blo, bhi in b:
            if bhi < cur or blo > hi:
                continue
            if blo > cur:
                out.append((cur, blo - 1))
            cur = max(cur, bhi + 1)
            if cur > hi:
                break
        if cur <= hi:
            out.append((cur, hi))
    return out


def member(values: np.ndarray, iv: Intervals) -> np.ndarray:
    """Index of the interval holding each value, −1 outside all (vectorised)."""
    v = np.asarray(values, dtype=np.int64)
    if not iv:
        return np.full(v.shape, -1, dtype=np.int64)
    lo = np.array([x[0] for x in iv], dtype=np.int64)
    hi = np.array([x[1] for x in iv], dtype=np.int64)
    k = np.searchsorted(lo, v, side="right") - 1
    inside = (k >= 0) & (v <= hi[np.clip(k, 0, None)])
    return np.where(inside, k, -1)
