"""The run completion policy: settle open runs at their deadline, accept rejected runs.

An open run waits (``held``) until its data are complete or its deadline passes
(:func:`fermi_halfpipe.rules.decide_at_deadline`: ``deadline_deliveries`` later deliveries
without data for it, or ``deadline_hours`` of wall time since its last data, whichever comes
first; until a settle applies it, the run is published ``overdue``). :func:`settle_runs` then

* **completes** it as ``incomplete``: every event in hand is merged, and the events the missing
  datagrams held are counted from the GEM sequence (:mod:`fermi_halfpipe.losses`) and recorded
  on the run (``lost_events``, published to Level 1 for the catalog and the FT1 header); or
* **rejects** it, with the reason recorded, when its data come from fewer than the two expected
  EPUs (the exactly-two-EPU rule of the real halfpipe).

:func:`accept_run` lets an operator accept a rejected run (``accepted``, who and why recorded):
its events are merged and Level 1 takes it; the same for a run held in ``mismatch`` (its
configuration keys differ from the mission-planning table: :mod:`fermi_halfpipe.runkeys`). Data arriving later for a retired run make its next
revision (:func:`fermi_halfpipe.release.revise_run`). Settling is idempotent: a run is settled
once; a second settle finds nothing due. ``docs/lifecycle/completion-policy.md`` is the
operator's description.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from fermi_core.db import session_scope
from fermi_core.site import Site, run_folder
from fermi_halfpipe import models as M
from fermi_halfpipe.errors import HalfpipeError
from fermi_halfpipe.locks import lock_database, lock_run
from fermi_halfpipe.losses import LossEstimate
from fermi_halfpipe.options import HalfpipeOptions
from fermi_halfpipe.release import deliver_run, retire
from fermi_halfpipe.report import run_report
from fermi_halfpipe.rules import (
    COMPLETE_AT_DEADLINE,
    REJECT_AT_DEADLINE,
    WAIT,
    RunFacts,
    completeness,
    decide_at_deadline,
    wall_deadline,
)
from fermi_halfpipe.states import as_utc, deliveries_without_data, utcnow
from fermi_halfpipe.store import run_rows

__all__ = ["Settlement", "accept_run", "describe_loss", "settle_runs"]


@dataclass(frozen=True)
class Settlement:
    """What :func:`settle_runs` did to one run.

    Attributes
    ----------
    run_id
        The run (MET of its start).
    state
        Its new state: ``incomplete`` (completed, loss counted) or ``rejected``.
    why
        Why its deadline had passed.
    reason
        The reason recorded on the run.
    lost_events
        Events counted in its missing datagrams (0 for a rejected run: nothing merged).
    lost_exact
        True when that count is exact (every GEM number reaches the ground).
    delivered
        Events merged by the settle.
    """

    run_id: int
    state: str
    why: str
    reason: str
    lost_events: int = 0
    lost_exact: bool = True
    delivered: int = 0

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return asdict(self)


def describe_loss(est: LossEstimate) -> str:
    """``N``, ``about N`` or ``at least N`` events lost, as the estimate allows."""
    if est.lower_bound:
        return f"at least {est.events}"
    return f"{est.events}" if est.exact else f"about {est.events}"


def _facts(session: Session, run: M.HalfpipeRun) -> RunFacts:
    waited = session.scalar(
        select(deliveries_without_data()).select_from(M.HalfpipeRun).where(M.HalfpipeRun.id == run.id)
    )
    apids = session.scalars(
        select(M.HalfpipeDatagram.apid).where(M.HalfpipeDatagram.run_id == run.run_id).distinct()
    ).all()
    return RunFacts(as_utc(run.last_data_utc), int(waited or 0), [int(a) for a in apids])


def settle_runs(
    site: Site, *, now: datetime | None = None, options: HalfpipeOptions | None = None
) -> list[Settlement]:
    """Apply the completion deadline to every open run (module docstring); idempotent.

    Parameters
    ----------
    site
        The data home and database.
    now
        The wall time to judge the deadlines at (default: now, UTC).
    options
        The policy (``deadline_deliveries``, ``deadline_hours``) and the expected EPU set;
        default :meth:`HalfpipeOptions.from_env`. The deadline stored on each open run (what
        ``status`` shows) is refreshed to this policy.

    Returns
    -------
    list of Settlement
        The runs settled by this call, by run id (empty when none was due).
    """
    options = options or HalfpipeOptions.from_env()
    now = as_utc(now) if now is not None else utcnow()
    out: list[Settlement] = []
    with session_scope(site.db_url) as session:
        lock_database(session, "settle")
        open_ids = session.scalars(
            select(M.HalfpipeRun.run_id).where(M.HalfpipeRun.status == M.OPEN).order_by(M.HalfpipeRun.run_id)
        ).all()
        for run_id in open_ids:
            label = f"deadline-{run_folder(run_id)}"
            run = lock_run(session, int(run_id), label)
            if run.status != M.OPEN:  # settled meanwhile by another process
                continue
            run.deadline_utc = wall_deadline(as_utc(run.last_data_utc), options)
            run.deadline_deliveries = options.deadline_deliveries
            decision = decide_at_deadline(_facts(session, run), options, now)
            if decision.action == WAIT:
                continue
            if decision.action == REJECT_AT_DEADLINE:
                run.status, run.retired_by = M.REJECTED, label
                run.reason = f"rejected at the deadline ({decision.why}): {decision.reason}"
                out.append(Settlement(int(run_id), M.REJECTED, decision.why, run.reason))
                continue
            assert decision.action == COMPLETE_AT_DEADLINE
            missing = completeness(run_rows(session, run.run_id), list(options.epu_apids))
            step = deliver_run(session, site, run, label, {}, options, force=True)
            est = retire(session, site, run, M.INCOMPLETE, label, "", options)
            run.reason = (
                f"completed at the deadline ({decision.why}): {describe_loss(est)} events lost in "
                f"missing datagrams ({'; '.join(missing)})"
            )
            out.append(
                Settlement(
                    int(run_id),
                    M.INCOMPLETE,
                    decision.why,
                    run.reason,
                    est.events,
                    est.exact,
                    step.delivered,
                )
            )
    return out


def accept_run(
    site: Site,
    run_id: int,
    *,
    reason: str,
    who: str,
    options: HalfpipeOptions | None = None,
) -> dict:
    """Accept a rejected or mismatched run: merge its events, state ``accepted``, who and why recorded.

    Events of datagrams on APIDs outside the expected EPU set are not merged (counted in the
    reason). Returns the run's report (:meth:`fermi_halfpipe.report.RunReport.as_dict`).

    Raises
    ------
    HalfpipeError
        Empty reason or name, an unknown run, or a run neither rejected nor mismatched (names its
        state).
    """
    options = options or HalfpipeOptions.from_env()
    if not reason.strip() or not who.strip():
        raise HalfpipeError(f"run {run_id}: accepting a run needs a reason (--reason) and a name (--who)")
    label = f"accept-{run_folder(run_id)}"
    with session_scope(site.db_url) as session:
        lock_database(session, label)
        if session.scalar(select(M.HalfpipeRun.id).where(M.HalfpipeRun.run_id == run_id)) is None:
            raise HalfpipeError(f"run {run_id}: unknown to the halfpipe (no datagram merged)")
        run = lock_run(session, run_id, label)
        if run.status not in (M.REJECTED, M.MISMATCH):
            raise HalfpipeError(
                f"run {run_id}: state is {run.status} ({run.reason or 'no reason'}); only rejected or "
                "mismatched runs can be accepted"
            )
        was = "rejected" if run.status == M.REJECTED else "held for its configuration keys"
        rows = run_rows(session, run_id)
        outside = int(rows["n_events"][~np.isin(rows["apid"], list(options.epu_apids))].sum())
        step = deliver_run(session, site, run, label, {}, options, force=True)
        note = f"; {outside} events on APIDs outside the EPU set not merged" if outside else ""
        why = f"accepted by {who.strip()}: {reason.strip()} (was {was}: {run.reason}){note}"
        retire(session, site, run, M.ACCEPTED, label, why, options)
        step.retired_now = True
        return run_report(session, site, run, options, step).as_dict()
