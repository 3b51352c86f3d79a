"""GTI construction from the FT2 rows that pass the filter (gtmktime ``createGti``), vectorised."""

from __future__ import annotations

import numpy as np

from fermi_sciencetools_shim.gti import Gti, consolidate


def ft2_gti(start: np.ndarray, stop: np.ndarray, selected: np.ndarray, tmin: float, tmax: float) -> Gti:
    """Return the intervals gtmktime builds from one FT2 file.

    Among the selected rows, in file order, the walk starts at the first row with
    ``STOP > tmin`` (that row is always kept) and stops before the next row with
    ``START > tmax``. A row whose ``START`` equals the previous kept row's ``STOP``
    *exactly* extends the current interval; otherwise it opens a new one. The result
    is consolidated (touching or overlapping intervals merged), as the ScienceTools'
    union does.

    Parameters
    ----------
    start, stop
        FT2 ``START``/``STOP`` columns (MET seconds).
    selected
        Boolean mask of the rows passing the filter.
    tmin, tmax
        ``TSTART``/``TSTOP`` of the event file.
    """
    s = np.asarray(start, dtype=np.float64)[selected]
    e = np.asarray(stop, dtype=np.float64)[selected]
    after = np.flatnonzero(e > tmin)
    if after.size == 0:
        return Gti.empty()
    first = int(after[0])
    s, e = s[first:], e[first:]
    late = np.flatnonzero(s[1:] > tmax)
    end = int(late[0]) + 1 if late.size else s.size
    s, e = s[:end], e[:end]
    opens = np.ones(s.size, dtype=bool)
    opens[1:] = s[1:] != e[:-1]
    group_first = np.flatnonzero(opens)
    group_last = np.append(group_first[1:] - 1, s.size - 1)
    return consolidate(s[group_first], e[group_last])
