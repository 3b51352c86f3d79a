"""What fermi-halfpipe publishes for the next stages: retired runs, and the state of every run.

Level 1 takes its runs from :func:`retired_runs` only (never from the halfpipe's tables or
summaries); the operations page takes run states from :func:`run_counts`. Both are backed by the
halfpipe's own tables; paths are home-relative there and resolved against the
:class:`fermi_core.site.Site` passed in, so a copied data home reads its own files.

A run is *retired* when Level 1 may take it: ``complete`` (every expected EPU from start to
stop), ``incomplete`` (completed at its deadline with its loss counted, or force-completed by an
operator) or ``accepted`` (a rejected run an operator accepted). Late data for a retired run make
its next *revision* (new merged files beside the old ones): :class:`RetiredRun` carries the
revision and the files of the current one. Runs still open (``held``, ``overdue``),
``rejected`` or held in ``mismatch`` (their configuration keys differ from the mission-planning
table: :mod:`fermi_halfpipe.runkeys`) are not retired. Both :class:`RetiredRun` and
:class:`RunState` carry the run's ``config_keys`` (``hw_key``, ``sw_key``, ``moot_key``;
0xFFFFFFFF when the data carry none). :func:`state_counts` and :func:`run_states` publish the state of
every run (:mod:`fermi_halfpipe.states`; ``docs/lifecycle/completion-policy.md``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, func, inspect, select
from sqlalchemy.orm import Session

from fermi_core.site import Site
from fermi_halfpipe import models as M
from fermi_halfpipe.options import HalfpipeOptions
from fermi_halfpipe.report import RunCounts, loss_estimate, merged_files, run_keys
from fermi_halfpipe.rules import completeness
from fermi_halfpipe.states import (
    RETIRED,
    STATES,
    as_utc,
    deliveries_without_data,
    state_column,
    utcnow,
)
from fermi_halfpipe.store import run_rows

__all__ = [
    "RETIRED",
    "STATES",
    "Losses",
    "MergedFile",
    "RetiredRun",
    "RunState",
    "SpacecraftFile",
    "all_merged_files",
    "retired_runs",
    "run_counts",
    "run_states",
    "spacecraft_files",
    "state_counts",
]


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
    on board after its events, so it bounds them), at least ``start + 1``. ``files`` are all the
    run's merged files of its current ``revision`` (1 at the first retirement, +1 each time late
    data changed them); ``completion`` is its state (``complete``, ``incomplete``, ``accepted``;
    equal to ``status``), ``lost_events`` the events counted in its missing datagrams (0 when
    complete), ``reason`` why it is incomplete or accepted; ``config_keys`` the hardware,
    software and MOOT keys its datagrams carry (``hw_key``, ``sw_key``, ``moot_key``).
    """

    run_id: int
    status: str
    reason: str
    start: float
    stop: float
    files: list[MergedFile] = field(default_factory=list)
    spacecraft: list[SpacecraftFile] = field(default_factory=list)
    losses: Losses | None = None
    revision: int = 1
    completion: str = M.COMPLETE
    lost_events: int = 0
    config_keys: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class RunState:
    """The published state of one run (:func:`run_states`).

    ``n_events`` are the events merged so far, ``held_events`` those in hand but not mergeable
    yet, ``lost_events`` those counted in the missing datagrams when the run was retired;
    ``last_data_utc`` when its last new datagrams were merged; ``deadline_utc`` the wall-time
    deadline of a ``held`` or ``overdue`` run (None otherwise); ``deliveries_left`` how many more
    deliveries without data it may wait (held/overdue only); ``config_keys`` the hardware,
    software and MOOT keys its datagrams carry (a ``mismatch`` run's ``reason`` names the key in
    the data and the planned one).
    """

    run_id: int
    state: str
    n_events: int
    held_events: int
    lost_events: int
    reason: str
    last_data_utc: datetime | None
    deadline_utc: datetime | None
    revision: int
    deliveries_left: int | None = None
    config_keys: dict[str, int] = field(default_factory=dict)


def _has_tables(session: Session) -> bool:
    return M.HalfpipeRun.__tablename__ in set(inspect(session.connection()).get_table_names())


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
    options = options or HalfpipeOptions.from_env()
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
        out.append(
            RetiredRun(
                int(r.run_id),
                r.status,
                r.reason or "",
                start,
                stop,
                files,
                cover,
                losses,
                revision=max(int(r.revision), 1),
                completion=r.status,
                lost_events=int(r.lost_events),
                config_keys=run_keys(r).as_dict(),
            )
        )
    return out


def state_counts(session: Session, *, now: datetime | None = None) -> dict[str, int]:
    """``{state: number of runs}`` over every run, one SQL aggregate; every state key present.

    ``now`` is the wall time open runs are judged at (``held`` or ``overdue``; default now).
    """
    counts = dict.fromkeys(STATES, 0)
    if not _has_tables(session):
        return counts
    state = state_column(now or utcnow()).label("state")
    for name, n in session.execute(select(state, func.count()).group_by(state)).all():
        counts[str(name)] = int(n)
    return counts


def run_states(
    session: Session,
    *,
    states: Iterable[str] | None = None,
    limit: int | None = None,
    offset: int = 0,
    now: datetime | None = None,
    runs: Iterable[int] | None = None,
) -> list[RunState]:
    """The state of each run (or of those in ``states``, or the runs ``runs``), by run id, paged.

    Raises
    ------
    ValueError
        A state not in :data:`STATES` (names it).
    """
    if not _has_tables(session):
        return []
    state = state_column(now or utcnow())
    # deliveries waited are counted for open runs only (a correlated count per retired run is wasted)
    waited = case((M.HalfpipeRun.status == M.OPEN, deliveries_without_data()), else_=None)
    q = select(M.HalfpipeRun, state.label("state"), waited.label("waited"))
    if runs is not None:
        q = q.where(M.HalfpipeRun.run_id.in_(sorted({int(r) for r in runs})))
    if states is not None:
        wanted = sorted(set(states))
        unknown = sorted(set(wanted) - set(STATES))
        if unknown:
            raise ValueError(f"parameter 'states': unknown state {unknown[0]!r} (known: {', '.join(STATES)})")
        q = q.where(state.in_(wanted))
    q = q.order_by(M.HalfpipeRun.run_id).offset(offset)
    if limit is not None:
        q = q.limit(limit)
    out = []
    for r, st, waited in session.execute(q).all():
        is_open = r.status == M.OPEN
        out.append(
            RunState(
                run_id=int(r.run_id),
                state=str(st),
                n_events=int(r.n_delivered),
                held_events=int(r.n_held),
                lost_events=int(r.lost_events),
                reason=r.reason or "",
                last_data_utc=as_utc(r.last_data_utc),
                deadline_utc=as_utc(r.deadline_utc) if is_open else None,
                revision=int(r.revision),
                deliveries_left=max(int(r.deadline_deliveries) - int(waited or 0), 0) if is_open else None,
                config_keys=run_keys(r).as_dict(),
            )
        )
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
