"""How a chunk (one merged file) is cut into recon crumbs: a pure rule, no I/O.

As in the real L1, one chunk is one merged file, and each chunk is cut into *crumbs* that are
reconstructed in parallel: at most :data:`MAX_CRUMBS` per chunk, at least ``min_crumb`` events on
average, sizes growing geometrically with largest/smallest = :data:`CRUMB_RATIO`.

The real L1 cuts a downlink into ~2000 batch jobs for several hundred computers. On a local pool
every task also costs its bookkeeping (attempt rows, log, result file, fsyncs, a read of the
merged file's index), so the default crumb holds :data:`MIN_CRUMB_EVENTS` events at least: about
0.2 s of digi + recon on one core, against a few tens of milliseconds of per-task cost. A farm
with many more cores than a 2-core host gives ``--min-crumb`` a smaller value.
"""

from __future__ import annotations

import itertools

import numpy as np

MAX_CRUMBS = 45
MIN_CRUMB_EVENTS = 10_000
CRUMB_RATIO = 1.5


def crumb_bounds(
    n_events: int,
    *,
    min_crumb: int = MIN_CRUMB_EVENTS,
    max_crumbs: int = MAX_CRUMBS,
    ratio: float = CRUMB_RATIO,
) -> list[tuple[int, int]]:
    """Return ``[lo, hi)`` event ranges cutting a chunk of ``n_events`` into crumbs.

    The number of crumbs is ``n_events // min_crumb`` (at least 1, at most ``max_crumbs``); their
    sizes grow geometrically from the first to the last with largest/smallest = ``ratio``.
    """
    if n_events < 0 or min_crumb < 1 or max_crumbs < 1 or ratio < 1.0:
        raise ValueError(
            f"crumb_bounds: n_events={n_events}, min_crumb={min_crumb}, max_crumbs={max_crumbs}, "
            f"ratio={ratio}: need n_events >= 0, min_crumb >= 1, max_crumbs >= 1, ratio >= 1"
        )
    k = int(min(max_crumbs, max(1, n_events // min_crumb)))
    weights = ratio ** (np.arange(k) / max(k - 1, 1))
    edges = np.rint(np.concatenate(([0.0], np.cumsum(weights))) / weights.sum() * n_events).astype(np.int64)
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges) if b > a]
