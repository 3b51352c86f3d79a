"""What fermi-halfpipe publishes for the next stages: retired runs, and the state of every run.

Level 1 takes its runs from :func:`retired_runs` only (never from the halfpipe's tables or
summaries); the operations page takes run states from :func:`run_counts`. Both are backed by the
halfpipe's own tables; paths are home-relative there and resolved against the
:class:`fermi_core.site.Site` passed in, so a copied data home reads its own files.

A run is *retired* when the halfpipe will not change it any more: ``complete`` (every expected
EPU from start to stop) or ``incomplete`` (force-completed by an operator). Runs still ``open``
(held back) or ``rejected`` (EPU rule) are not published.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from fermi_core.site import Site
from fermi_halfpipe import models as M
from fermi_halfpipe.options import HalfpipeOptions
from fermi_halfpipe.report import RunCounts, loss_estimate, merged_files
from fermi_halfpipe.rules import completeness
from fermi_halfpipe.store import run_rows

#: Statuses of a retired run.
RETIRED = (M.COMPLETE, M.INCOMPLETE)


@dataclass(frozen=True)
class MergedFile:
    """One merged event file of a run (Arrow IPC, read with :func:`fermi_halfpipe.outputs.read_merged`)."""

    path: str  # absolute, in the site's data home
    relpath: str  # home-relative, as registered
    sha256: str
    first_gem: int
    last_gem: int
    n_events: int


@dataclass(frozen=True)
class SpacecraftFile:
    """A spacecraft sample file of one delivery (read with :func:`fermi_halfpipe.spacecraft.read_samples`)."""

    path: str  # absolute, in the site's data home
    relpath: str  # home-relative, as registered
    sha256: str
    met_start: float
    met_stop: float


@dataclass(frozen=True)
class Losses:
    """What a retired run lacks.

    Attributes
    ----------
    missing
        What kept the run from being complete (empty for a complete run).
    lost_in_missing
        Events held by the missing datagrams (:mod:`fermi_halfpipe.losses`), ``exact`` or not,
        ``lower_bound`` when a run end is missing.
    lost_in_malformed
        Events the decoder could not read in received datagrams.
    late
        Events that arrived after their GEM range was delivered (never merged).
    """

    missing: list[str]
    lost_in_missing: int
    exact: bool
    lower_bound: bool
    lost_in_malformed: int
    late: int


@dataclass(frozen=True)
class RetiredRun:
    """A retired run, what Level 1 needs of it.

    ``start`` is the run id (MET of the run start); ``stop`` the MET of its last datagram (built
    on board after its events, so it bounds them), at least ``start + 1``.
    """

    run_id: int
    status: str
    reason: str
    start: float
    stop: float
    files: list[MergedFile] = field(default_factory=list)
    spacecraft: list[SpacecraftFile] = field(default_factory=list)
    losses: Losses | None = None


def _has_tables(session: Session) -> bool:
    return M.HalfpipeRun.__tablename__ in set(inspect(session.get_bind()).get_table_names())


def spacecraft_files(session: Session, site: Site) -> list[SpacecraftFile]:
    """Every spacecraft sample file the halfpipe extracted, by delivery id."""
    return [
        SpacecraftFile(str(site.resolve(f.path)), f.path, f.sha256, float(f.met_start), float(f.met_stop))
        for f in session.scalars(
            select(M.HalfpipeSpacecraftFile).order_by(M.HalfpipeSpacecraftFile.delivery_id)
        )
    ]


def all_merged_files(session: Session, site: Site) -> list[tuple[int, MergedFile]]:
    """``(run id, file)`` of every merged event file written so far, whatever its run's state, by run and GEM."""
    if not _has_tables(session):
        return []
    run_ids = session.scalars(select(M.HalfpipeFile.run_id).distinct().order_by(M.HalfpipeFile.run_id))
    return [
        (
            int(run),
            MergedFile(str(site.resolve(f.path)), f.path, f.sha256, f.first_gem, f.last_gem, f.n_events),
        )
        for run in list(run_ids)
        for f in merged_files(session, run)
    ]


def retired_runs(
    session: Session,
    site: Site,
    options: HalfpipeOptions | None = None,
    *,
    margin_s: float = 0.0,
    run_ids: Iterable[int] | None = None,
) -> list[RetiredRun]:
    """Every retired run (or those of ``run_ids``), by run id, with its files and losses.

    Parameters
    ----------
    session
        A session on the site's database.
    site
        The data home the stored paths are resolved against.
    options
        The halfpipe's options (the expected EPU set, for the losses).
    margin_s
        Spacecraft files are those overlapping ``[start - margin_s, stop + margin_s]``.
    run_ids
        Only these runs (default: all).
    """
    options = options or HalfpipeOptions()
    if not _has_tables(session):
        return []
    samples = spacecraft_files(session, site)
    q = select(M.HalfpipeRun).where(M.HalfpipeRun.status.in_(RETIRED)).order_by(M.HalfpipeRun.run_id)
    if run_ids is not None:
        q = q.where(M.HalfpipeRun.run_id.in_(sorted({int(r) for r in run_ids})))
    out = []
    for r in session.scalars(q):
        files = [
            MergedFile(str(site.resolve(f.path)), f.path, f.sha256, f.first_gem, f.last_gem, f.n_events)
            for f in merged_files(session, r.run_id)
        ]
        last = session.scalar(
            select(func.max(M.HalfpipeDatagram.met)).where(M.HalfpipeDatagram.run_id == r.run_id)
        )
        start = float(r.run_id)
        stop = max(float(last) if last is not None else start, start + 1.0)
        lo, hi = start - margin_s, stop + margin_s
        rows = run_rows(session, r.run_id)
        est = loss_estimate(session, site, r.run_id, options, rows)
        losses = Losses(
            missing=completeness(rows, list(options.epu_apids)),
            lost_in_missing=est.events,
            exact=est.exact,
            lower_bound=est.lower_bound,
            lost_in_malformed=est.decoder_lost,
            late=int(r.n_late),
        )
        cover = [f for f in samples if f.met_stop >= lo and f.met_start <= hi]
        out.append(RetiredRun(int(r.run_id), r.status, r.reason or "", start, stop, files, cover, losses))
    return out


def run_counts(session: Session, run_ids: Iterable[int | None] | None = None) -> dict[int, RunCounts]:
    """``{run id: status and totals}`` of the given runs (all when None); empty without the tables."""
    if not _has_tables(session):
        return {}
    q = select(M.HalfpipeRun).order_by(M.HalfpipeRun.run_id)
    if run_ids is not None:
        wanted = sorted({int(r) for r in run_ids if r is not None})
        if not wanted:
            return {}
        q = q.where(M.HalfpipeRun.run_id.in_(wanted))
    return {int(r.run_id): RunCounts.of(r) for r in session.scalars(q)}
