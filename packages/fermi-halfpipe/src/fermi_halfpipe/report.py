"""The one report of a run: :class:`RunReport`, used by the merge summary, force-complete and ``status``.

A :class:`RunReport` always describes the whole run as it stands after the report's transaction:
its status, run totals (:class:`RunCounts`), what is missing, the events the missing datagrams
held (:mod:`fermi_halfpipe.losses`), delivered spans, datagram intervals seen, held and late
groups, and every merged file. A report made by a merge step (one delivery merged, or a run
force-completed) also carries :class:`StepReport`: what that step alone did. ``status`` reports
have no step.

The counters mean the same everywhere (definitions in :mod:`fermi_halfpipe.rules`):

``delivered``
    Events written into merged files.
``held_back``
    Events in hand that cannot be merged yet (now).
``late``
    Events that arrived after their GEM range had been delivered: counted, never merged.
``duplicate_datagrams``
    Datagrams received again (the first copy is kept).

In :class:`RunCounts` they are run totals; in :class:`StepReport` the same quantities for one
step (``held_back`` is a state, so only the run has it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fermi_core.site import Site
from fermi_halfpipe import models as M
from fermi_halfpipe.keys import ConfigKeys
from fermi_halfpipe.losses import LossEstimate, estimate_losses
from fermi_halfpipe.options import HalfpipeOptions
from fermi_halfpipe.rules import DatagramRows, completeness, event_gaps
from fermi_halfpipe.states import as_utc, deliveries_without_data, state_column, utcnow
from fermi_halfpipe.store import delivered_spans, run_rows, stored_gem_values


def run_keys(run: M.HalfpipeRun) -> ConfigKeys:
    """The configuration keys recorded on a run row (unknown ones 0xFFFFFFFF)."""
    return ConfigKeys.of(
        {n: v for n in ("hw_key", "sw_key", "moot_key") if (v := getattr(run, n)) is not None}
    )


@dataclass(frozen=True)
class RunCounts:
    """A run's status and totals (module docstring), read from its ``halfpipe_run`` row."""

    run_id: int
    status: str
    reason: str
    retired_by: str
    delivered: int
    held_back: int
    late: int
    duplicate_datagrams: int
    revision: int = 0
    lost_events: int = 0
    #: ``hw_key``, ``sw_key``, ``moot_key`` its datagrams carry (0xFFFFFFFF: unknown)
    config_keys: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, run: M.HalfpipeRun) -> RunCounts:
        """The counts of a run row."""
        return cls(
            int(run.run_id),
            run.status,
            run.reason or "",
            run.retired_by or "",
            int(run.n_delivered),
            int(run.n_held),
            int(run.n_late),
            int(run.n_duplicates),
            int(run.revision or 0),
            int(run.lost_events or 0),
            run_keys(run).as_dict(),
        )


@dataclass(frozen=True)
class MergedFileEntry:
    """One merged event file as reported (path home-relative)."""

    path: str
    sha256: str
    first_gem: int
    last_gem: int
    n_events: int

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "path": self.path,
            "sha256": self.sha256,
            "first_gem": self.first_gem,
            "last_gem": self.last_gem,
            "n_events": self.n_events,
        }


@dataclass
class StepReport:
    """What one merge step (a delivery, or a force-complete) did to a run (module docstring)."""

    delivered: int = 0
    late: int = 0
    duplicate_datagrams: int = 0
    conflicting_datagrams: int = 0
    duplicate_events: int = 0
    files: list[MergedFileEntry] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)
    retired_now: bool = False
    #: the run revision this step made (late data merged into a retired run), 0 if none
    revision: int = 0

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "delivered": self.delivered,
            "late": self.late,
            "duplicate_datagrams": self.duplicate_datagrams,
            "conflicting_datagrams": self.conflicting_datagrams,
            "duplicate_events": self.duplicate_events,
            "files": [f.as_dict() for f in self.files],
            "spans": [[lo, hi] for lo, hi in self.spans],
            "retired_now": self.retired_now,
            "revision": self.revision,
        }


@dataclass(frozen=True)
class RunReport:
    """The state of one run (module docstring); ``step`` is set when a merge step made it."""

    counts: RunCounts
    missing: list[str]
    losses: LossEstimate
    spans: list[tuple[int, int]]
    datagrams: list[dict]
    held: list[dict]
    files: list[MergedFileEntry]
    step: StepReport | None = None
    #: the published state (:mod:`fermi_halfpipe.states`): held, overdue, complete, ...
    state: str = ""
    #: held/overdue runs: the wall-time deadline and the deliveries without data still allowed
    deadline_utc: datetime | None = None
    deliveries_left: int | None = None

    @property
    def run_id(self) -> int:
        """The run id (MET of the run start)."""
        return self.counts.run_id

    def as_dict(self, *, wall_time: bool = True) -> dict:
        """JSON-ready form: the counts and the losses at the top level, ``step`` nested (or None).

        ``wall_time=False`` leaves out the wall-time deadline (``deadline_utc``), so that a
        delivery summary is byte-identical when its merge is re-run.
        """
        c = self.counts
        deadline = self.deadline_utc if wall_time else None
        return {
            **self.losses.as_dict(),
            "run_id": c.run_id,
            "status": c.status,
            "state": self.state or c.status,
            "deadline_utc": None if deadline is None else deadline.isoformat(timespec="seconds"),
            "deliveries_left": self.deliveries_left,
            "revision": c.revision,
            "lost_events": c.lost_events,
            "config_keys": dict(c.config_keys),
            "reason": c.reason,
            "retired_by": c.retired_by,
            "delivered": c.delivered,
            "held_back": c.held_back,
            "late": c.late,
            "duplicate_datagrams": c.duplicate_datagrams,
            "missing": list(self.missing),
            "spans": [[lo, hi] for lo, hi in self.spans],
            "event_gaps": event_gaps(self.spans),
            "datagrams": self.datagrams,
            "held": self.held,
            "files": [f.as_dict() for f in self.files],
            "step": None if self.step is None else self.step.as_dict(),
        }


def loss_estimate(
    session: Session, site: Site, run_id: int, options: HalfpipeOptions, rows: DatagramRows | None = None
) -> LossEstimate:
    """Events in the run's missing datagrams, as far as the GEM sequence tells (:mod:`fermi_halfpipe.losses`)."""
    rows = run_rows(session, run_id) if rows is None else rows
    cache: dict = {}

    def gem_values(row_id: int):
        if row_id not in cache:
            cache[row_id] = stored_gem_values(session, site, row_id)
        return cache[row_id]

    return estimate_losses(rows, list(options.epu_apids), gem_values)


def merged_files(session: Session, run_id: int, *, current_only: bool = True) -> list[MergedFileEntry]:
    """The merged files of a run's current revision (or, ``current_only=False``, every one), by GEM range."""
    q = select(M.HalfpipeFile).where(M.HalfpipeFile.run_id == run_id)
    if current_only:
        q = q.where(M.HalfpipeFile.replaced_in == 0)
    return [
        MergedFileEntry(f.path, f.sha256, int(f.first_gem), int(f.last_gem), int(f.n_events))
        for f in session.scalars(q.order_by(M.HalfpipeFile.first_gem, M.HalfpipeFile.revision))
    ]


def run_report(
    session: Session,
    site: Site,
    run: M.HalfpipeRun,
    options: HalfpipeOptions,
    step: StepReport | None = None,
) -> RunReport:
    """The report of ``run`` as the session sees it (pending changes flushed first)."""
    session.flush()
    state, waited = session.execute(
        select(state_column(utcnow()), deliveries_without_data()).where(M.HalfpipeRun.id == run.id)
    ).one()
    is_open = run.status == M.OPEN
    rows = run_rows(session, run.run_id)
    sightings = session.execute(
        select(
            M.HalfpipeSighting.apid,
            M.HalfpipeSighting.delivery_id,
            M.HalfpipeSighting.seq_first,
            M.HalfpipeSighting.seq_last,
            M.HalfpipeSighting.n_duplicates,
        )
        .where(M.HalfpipeSighting.run_id == run.run_id)
        .order_by(M.HalfpipeSighting.apid, M.HalfpipeSighting.seq_first, M.HalfpipeSighting.id)
    ).all()
    held = [
        {
            "kind": h.kind,
            "apid": h.apid,
            "store": h.store_path,
            "datagrams": [h.seq_first, h.seq_last],
            "gem": [h.first_gem, h.last_gem],
            "n_events": h.n_events,
        }
        for h in session.scalars(
            select(M.HalfpipeHeld).where(M.HalfpipeHeld.run_id == run.run_id).order_by(M.HalfpipeHeld.id)
        )
    ]
    return RunReport(
        counts=RunCounts.of(run),
        missing=completeness(rows, list(options.epu_apids)),
        losses=loss_estimate(session, site, run.run_id, options, rows),
        spans=delivered_spans(session, run.run_id),
        datagrams=[
            {"apid": a, "delivery": d, "first": int(f), "last": int(la), "duplicates": int(n)}
            for a, d, f, la, n in sightings
        ],
        held=held,
        files=merged_files(session, run.run_id),
        step=step,
        state=str(state),
        deadline_utc=as_utc(run.deadline_utc) if is_open else None,
        deliveries_left=max(int(run.deadline_deliveries) - int(waited or 0), 0) if is_open else None,
    )


def run_reports(
    session: Session, site: Site, options: HalfpipeOptions, run_id: int | None = None
) -> list[RunReport]:
    """Reports of one run (or of every run, by run id); empty when the run is unknown."""
    q = select(M.HalfpipeRun).order_by(M.HalfpipeRun.run_id)
    if run_id is not None:
        q = q.where(M.HalfpipeRun.run_id == run_id)
    return [run_report(session, site, run, options) for run in session.scalars(q)]
