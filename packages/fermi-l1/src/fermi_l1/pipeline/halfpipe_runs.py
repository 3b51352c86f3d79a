"""Which halfpipe runs L1 can take, and how each is cut into chunks and crumbs.

A run is ready when the halfpipe retired it: ``complete`` (every expected EPU from start to
stop), ``incomplete`` (completed at its deadline with its loss counted, or force-completed by an
operator) or ``accepted`` (a rejected run an operator accepted). Runs still held back or
``rejected`` are left alone; which version of a ready run's products is made is planned by
:mod:`fermi_l1.versions`. L1 learns about runs only through the halfpipe's published reader
(:func:`fermi_halfpipe.published.retired_runs`: run times, merged files with their SHA-256, the
spacecraft sample files around the run); it never reads a halfpipe table or summary.

Each chunk (one merged file) is cut into crumbs by :func:`.crumbs.crumb_bounds`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from fermi_core.site import Site, run_folder
from fermi_halfpipe.published import MergedFile, SpacecraftFile, retired_runs
from fermi_l1.db import session

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


def ready_runs(db_url: str, home: str | os.PathLike[str]) -> list[RunPlan]:
    """Return the plans of every retired (complete or force-completed) halfpipe run, by run id."""
    site = Site(Path(home), db_url)
    with session(db_url) as s:
        runs = retired_runs(s, site, margin_s=SAMPLE_MARGIN_S)
    return [RunPlan(r.run_id, r.status, r.start, r.stop, list(r.files), list(r.spacecraft)) for r in runs]
