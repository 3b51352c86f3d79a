"""Which halfpipe runs L1 can take, and how each is cut into chunks and crumbs.

A run is ready when the halfpipe retired it: ``complete`` (every expected EPU from start to
stop), ``incomplete`` (completed at its deadline with its loss counted, or force-completed by an
operator) or ``accepted`` (a rejected run an operator accepted). Runs still held back or
``rejected`` are left alone; which version of a ready run's products is made is planned by
:mod:`fermi_l1.versions`. L1 learns about runs only through the halfpipe's published reader
(:func:`fermi_halfpipe.published.retired_runs`: run times, merged files with their SHA-256, the
spacecraft sample files around the run); it never reads a halfpipe table or summary.

As in the real L1, one chunk is one merged file, and each chunk is cut into *crumbs* that are
reconstructed in parallel: at most :data:`MAX_CRUMBS` per chunk, at least ``min_crumb`` events on
average, sizes growing geometrically with largest/smallest = :data:`CRUMB_RATIO`.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fermi_core.site import Site, run_folder
from fermi_halfpipe.published import MergedFile, SpacecraftFile, retired_runs
from fermi_l1.db import session

MAX_CRUMBS = 45
MIN_CRUMB_EVENTS = 1500
CRUMB_RATIO = 1.5
#: spacecraft samples kept around the run (s): FT2 rows and recon may extrapolate a little
SAMPLE_MARGIN_S = 10.0


@dataclass
class RunPlan:
    """What L1 needs of one halfpipe run."""

    run: int
    status: str
    start: float
    stop: float
    files: list[MergedFile] = field(default_factory=list)  # one per chunk
    spacecraft: list[SpacecraftFile] = field(default_factory=list)  # overlapping the run

    @property
    def key(self) -> str:
        """Pipeline key of the run (``r<run10>``)."""
        return run_folder(self.run)


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


def ready_runs(db_url: str, home: str | os.PathLike[str]) -> list[RunPlan]:
    """Return the plans of every retired (complete or force-completed) halfpipe run, by run id."""
    site = Site(Path(home), db_url)
    with session(db_url) as s:
        runs = retired_runs(s, site, margin_s=SAMPLE_MARGIN_S)
    return [RunPlan(r.run_id, r.status, r.start, r.stop, list(r.files), list(r.spacecraft)) for r in runs]
