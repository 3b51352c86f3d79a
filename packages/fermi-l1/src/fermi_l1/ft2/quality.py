"""``DATA_QUAL`` of the FT2 rows from the bad time intervals of a run version (L1Proc ``flagFT2``).

``DATA_QUAL`` first comes from telemetry (1, nominal, in every flight row seen: see
``docs/lifecycle/bad-time-intervals.md``). A bad time interval ``[start, stop)`` with value ``q``
(0 = bad, or negative) sets ``DATA_QUAL = q`` in every 1 s row it overlaps -- the row test of
L1Proc's ``flagFT2.badRange``: a row ``[START, STOP)`` is flagged unless ``START >= stop`` or
``STOP <= start`` -- so the flagged time is the interval widened to whole 1 s rows. Where
intervals overlap, the lowest value wins. The 30 s file is then merged from the flagged 1 s rows
(the merge cuts a group where ``DATA_QUAL`` changes: :func:`fermi_sciencetools_shim.io.ft2_merge.merge_ft2`),
so both files flag the same time, which ``flagFT2`` checks for. ``LAT_CONFIG`` and every other
column are left as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np


def flagged_rows(start: np.ndarray, stop: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Boolean mask of the rows ``[start, stop)`` that overlap ``[lo, hi)`` (``flagFT2`` rule)."""
    start = np.asarray(start, dtype=np.float64)
    stop = np.asarray(stop, dtype=np.float64)
    return ~((start >= float(hi)) | (stop <= float(lo)))


def apply_bad_times(
    rows: Mapping[str, np.ndarray], bad_times: Iterable[Mapping[str, Any]]
) -> dict[str, np.ndarray]:
    """Return the FT2 columns ``rows`` with ``DATA_QUAL`` set by the bad time intervals.

    Parameters
    ----------
    rows
        FT2 columns (``START``, ``STOP``, ``DATA_QUAL``, ...), e.g. from
        :func:`fermi_l1.ft2.make.make_ft2_rows`; not modified.
    bad_times
        Intervals ``{"start", "stop", "data_qual"}`` (MET; a run version's plan entries:
        :meth:`fermi_l1.quality.intervals.BadTimeInterval.plan_entry`).

    Returns
    -------
    dict
        The same columns (shared arrays) with a new ``DATA_QUAL`` array of the same dtype.
    """
    out = dict(rows)
    qual = np.array(rows["DATA_QUAL"], copy=True)
    for bti in bad_times:
        mask = flagged_rows(rows["START"], rows["STOP"], float(bti["start"]), float(bti["stop"]))
        value = qual.dtype.type(int(bti["data_qual"]))
        qual[mask] = np.minimum(qual[mask], value)
    out["DATA_QUAL"] = qual
    return out


def flagged_span(rows: Mapping[str, np.ndarray]) -> list[tuple[float, float]]:
    """The time ``[START, STOP)`` of the rows with ``DATA_QUAL <= 0``, contiguous rows merged."""
    start = np.asarray(rows["START"], dtype=np.float64)
    stop = np.asarray(rows["STOP"], dtype=np.float64)
    bad = np.asarray(rows["DATA_QUAL"]) <= 0
    spans: list[tuple[float, float]] = []
    for a, b, is_bad in zip(start, stop, bad, strict=True):
        if not is_bad:
            continue
        if spans and spans[-1][1] == a:
            spans[-1] = (spans[-1][0], float(b))
        else:
            spans.append((float(a), float(b)))
    return spans
