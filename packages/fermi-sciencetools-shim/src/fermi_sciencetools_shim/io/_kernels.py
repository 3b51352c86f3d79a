"""Numba kernels of the io package (plain arrays in and out, no I/O)."""

from __future__ import annotations

import numpy as np

from fermi_sciencetools_shim.jit import njit


@njit
def _merge_groups(start, stop, livetime, lat_config, lat_mode, data_qual, dt):  # pragma: no cover - compiled
    n = start.shape[0]
    firsts = np.empty(n, np.int64)
    lasts = np.empty(n, np.int64)
    sums = np.empty(n, np.float64)
    ngroups = 0
    i = 0
    while i < n:
        first = i
        limit = start[i] + dt
        total = 0.0
        last = n - 1
        nxt = n
        j = i
        while j < n:
            next_duration = 0.0
            if j + 1 < n:
                next_duration = stop[j + 1] - start[j + 1]
            if stop[j] + next_duration > limit:
                total += livetime[j]
                last = j
                nxt = j + 1
                break
            if (
                lat_config[j] != lat_config[first]
                or lat_mode[j] != lat_mode[first]
                or data_qual[j] != data_qual[first]
                or (livetime[j] <= 0.0) != (livetime[first] <= 0.0)
            ):
                last = j - 1
                nxt = j
                break
            total += livetime[j]
            j += 1
        firsts[ngroups] = first
        lasts[ngroups] = last
        sums[ngroups] = total
        ngroups += 1
        i = nxt
    return firsts[:ngroups], lasts[:ngroups], sums[:ngroups]


def merge_groups(
    start: np.ndarray,
    stop: np.ndarray,
    livetime: np.ndarray,
    lat_config: np.ndarray,
    lat_mode: np.ndarray,
    data_qual: np.ndarray,
    dt: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group consecutive FT2 rows as ft2Util ``mergeFT2`` does.

    A group opens at row ``i`` (its START is ``start[i]``) and takes rows in order. Row
    ``j`` closes the group *including itself* when ``stop[j]`` plus the next row's
    duration would pass ``start[i] + dt`` (checked first, so such a row is merged even if
    its flags differ). Otherwise the group closes *before* row ``j`` when ``LAT_CONFIG``,
    ``LAT_MODE`` or ``DATA_QUAL`` differs from row ``i``'s or when the livetime switches
    between zero and positive relative to row ``i``. Gaps between rows are not checked.

    Returns
    -------
    first, last, livetime
        ``int64`` first/last row of each group and the summed livetime (summed in row order).
    """
    return _merge_groups(
        np.ascontiguousarray(start, np.float64),
        np.ascontiguousarray(stop, np.float64),
        np.ascontiguousarray(livetime, np.float64),
        np.ascontiguousarray(lat_config, np.int64),
        np.ascontiguousarray(lat_mode, np.int64),
        np.ascontiguousarray(data_qual, np.int64),
        float(dt),
    )
