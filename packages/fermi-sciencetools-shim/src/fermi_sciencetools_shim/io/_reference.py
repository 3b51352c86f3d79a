"""Plain-Python twins of the :mod:`._kernels` loops (the tests compare both)."""

from __future__ import annotations

import numpy as np


def merge_groups(
    start: np.ndarray,
    stop: np.ndarray,
    livetime: np.ndarray,
    lat_config: np.ndarray,
    lat_mode: np.ndarray,
    data_qual: np.ndarray,
    dt: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reference implementation of :func:`._kernels.merge_groups`."""
    n = len(start)
    firsts: list[int] = []
    lasts: list[int] = []
    sums: list[float] = []
    i = 0
    while i < n:
        first = i
        limit = start[i] + dt
        total = 0.0
        last = n - 1
        nxt = n
        j = i
        while j < n:
            next_duration = stop[j + 1] - start[j + 1] if j + 1 < n else 0.0
            if stop[j] + next_duration > limit:
                total += livetime[j]
                last, nxt = j, j + 1
                break
            changed = (
                lat_config[j] != lat_config[first]
                or lat_mode[j] != lat_mode[first]
                or data_qual[j] != data_qual[first]
                or (livetime[j] <= 0) != (livetime[first] <= 0)
            )
            if changed:
                last, nxt = j - 1, j
                break
            total += livetime[j]
            j += 1
        firsts.append(first)
        lasts.append(last)
        sums.append(total)
        i = nxt
    return np.array(firsts, np.int64), np.array(lasts, np.int64), np.array(sums, np.float64)
