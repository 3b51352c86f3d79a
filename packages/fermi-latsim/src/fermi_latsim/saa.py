"""SAA passages along a sampled orbit.

The LAT stops taking data while the spacecraft is inside the SAA polygon; the polygon and the
inside test are :mod:`fermi_core.mission.saa` (``LAT_SAA_2008198`` is used for every epoch).
"""

from __future__ import annotations

import numpy as np


def passages(met: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Return the SAA passages as an (n, 2) array of MET ``[entry, exit)``.

    ``met`` is a sorted sampling of the orbit and ``inside`` the polygon test at those samples;
    an entry is the first sample inside, an exit the first sample outside after it. A passage
    already under way at the first sample starts there; one still under way at the last sample
    ends at the last sample.
    """
    met = np.asarray(met, dtype=np.float64)
    inside = np.asarray(inside, dtype=bool)
    if met.shape != inside.shape:
        raise ValueError(f"parameters 'met' and 'inside': shapes {met.shape} and {inside.shape} differ")
    if met.size == 0:
        return np.empty((0, 2))
    edges = np.diff(inside.astype(np.int8))
    starts = list(np.flatnonzero(edges == 1) + 1)
    stops = list(np.flatnonzero(edges == -1) + 1)
    if inside[0]:
        starts.insert(0, 0)
    entry = met[starts]
    exit_ = met[stops] if len(stops) == len(starts) else np.append(met[stops], met[-1])
    return np.column_stack([entry, exit_])
