"""Which halfpipe runs L1 can take, and how each is cut into chunks and crumbs.

A run is ready when the halfpipe retired it: ``complete`` (every expected EPU from start to
stop) or ``incomplete`` (force-completed by an operator). Runs still ``open`` (held back) or
``rejected`` are left alone. L1 reads only the merged files registered in ``halfpipe_file`` (with
their SHA-256) and the spacecraft sample files named by the delivery summaries of the halfpipe.

As in the real L1, one chunk is one merged file, and each chunk is cut into *crumbs* that are
reconstructed in parallel: at most :data:`MAX_CRUMBS` per chunk, at least ``min_crumb`` events on
average, sizes growing geometrically with largest/smallest = :data:`CRUMB_RATIO`.
"""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import func, select

import fermi_halfpipe.models as hp
from fermi_l1.db import session

MAX_CRUMBS = 45
MIN_CRUMB_EVENTS = 1500
CRUMB_RATIO = 1.5
#: spacecraft samples kept around the run (s): FT2 rows and recon may extrapolate a little
SAMPLE_MARGIN_S = 10.0
READY = (hp.COMPLETE, hp.INCOMPLETE)


@dataclass(frozen=True)
class MergedFile:
    """One merged event file of a run (one L1 chunk)."""

    path: str  # absolute
    relpath: str  # relative to FERMI_HOME, as registered
    sha256: str
    first_gem: int
    last_gem: int
    n_events: int


@dataclass(frozen=True)
class SampleFile:
    """A spacecraft sample file of a delivery whose span overlaps the run."""

    path: str
    relpath: str
    sha256: str
    met_start: float
    met_stop: float


@dataclass
class RunPlan:
    """What L1 needs of one halfpipe run."""

    run: int
    status: str
    start: float
    stop: float
    files: list[MergedFile] = field(default_factory=list)
    spacecraft: list[SampleFile] = field(default_factory=list)

    @property
    def key(self) -> str:
        """Pipeline key of the run (``r<run10>``)."""
        return f"r{self.run:010d}"


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


def _spacecraft_files(s, home: Path) -> list[SampleFile]:
    out = []
    for d in s.scalars(select(hp.HalfpipeDelivery).order_by(hp.HalfpipeDelivery.delivery_id)):
        if d.state != "done":
            continue
        summary_path = home / d.summary_path if not os.path.isabs(d.summary_path) else Path(d.summary_path)
        try:
            sc = json.loads(summary_path.read_text()).get("spacecraft") or {}
        except (OSError, ValueError):
            continue  # reported by the run-input task if the run needs it
        if not sc.get("path") or not sc.get("n_samples"):
            continue
        out.append(
            SampleFile(
                str(home / sc["path"]),
                sc["path"],
                sc["sha256"],
                float(sc["met_start"]),
                float(sc["met_stop"]),
            )
        )
    return out


def ready_runs(db_url: str, home: str | os.PathLike[str]) -> list[RunPlan]:
    """Return the plans of every retired (complete or force-completed) halfpipe run, by run id."""
    home = Path(home)
    plans = []
    with session(db_url) as s:
        samples = _spacecraft_files(s, home)
        runs = s.scalars(
            select(hp.HalfpipeRun).where(hp.HalfpipeRun.status.in_(READY)).order_by(hp.HalfpipeRun.run_id)
        )
        for r in runs:
            files = [
                MergedFile(str(home / f.path), f.path, f.sha256, f.first_gem, f.last_gem, f.n_events)
                for f in s.scalars(
                    select(hp.HalfpipeFile)
                    .where(hp.HalfpipeFile.run_id == r.run_id)
                    .order_by(hp.HalfpipeFile.first_gem)
                )
            ]
            # datagrams are built on board after their events: the last one bounds the run
            last = s.scalar(
                select(func.max(hp.HalfpipeDatagram.met)).where(hp.HalfpipeDatagram.run_id == r.run_id)
            )
            start = float(r.run_id)
            stop = max(float(last) if last is not None else start, start + 1.0)
            lo, hi = start - SAMPLE_MARGIN_S, stop + SAMPLE_MARGIN_S
            cover = [f for f in samples if f.met_stop >= lo and f.met_start <= hi]
            plans.append(RunPlan(int(r.run_id), r.status, start, stop, files, cover))
    return plans
