"""The halfpipe's view of each LAT run (events delivered, held back and late), from its published reader.

Everything here goes through :mod:`fermi_halfpipe.published` (the halfpipe's tables are its own):
:func:`halfpipe_states` per run (the published state: held / overdue / complete / ..., never the
stored ``open``), :func:`halfpipe_state_counts` (one SQL aggregate over all runs)
and :func:`halfpipe_runs` (the runs in given states, e.g. ``held``, ``overdue``, ``rejected``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from fermi_halfpipe import published
from fermi_halfpipe.published import run_counts
from fermi_isoc.queries.pages import Page, clamp

#: published halfpipe run state (:data:`fermi_halfpipe.published.STATES`) -> what the page calls it
LABELS = {
    "held": "held back",
    "overdue": "overdue",
    "complete": "complete",
    "incomplete": "incomplete",
    "rejected": "rejected",
    "mismatch": "configuration mismatch",
    "accepted": "accepted",
}


@dataclass(frozen=True)
class HalfpipeState:
    """The halfpipe's view of one LAT run: its published state and its event counts.

    Attributes
    ----------
    status
        The published state (``held``, ``overdue``, ``complete``, ``incomplete``, ``rejected``,
        ``mismatch``, ``accepted``: :func:`fermi_halfpipe.published.run_states`), never the
        stored row status (an open run is ``held`` or ``overdue``, judged at the request's time).
    label
        What the page calls that state.
    n_delivered, n_held, n_lost, n_late, n_duplicates
        Events delivered, held back, lost (counted at completion), arrived late; duplicate datagrams.
    deadline_utc, deliveries_left
        When an open run is due, and the deliveries without its data still to wait (None once retired).
    """

    run_id: int
    status: str
    label: str
    n_delivered: int
    n_held: int
    n_late: int
    n_duplicates: int
    reason: str
    n_lost: int = 0
    revision: int = 0
    deadline_utc: datetime | None = None
    deliveries_left: int | None = None


def halfpipe_states(
    session: Session, run_ids: list[int | None] | None = None, *, now: datetime | None = None
) -> dict[int, HalfpipeState]:
    """``{LAT run id: state}`` of the given runs (all when None), open runs judged at ``now``.

    The state is the published one (:func:`fermi_halfpipe.published.run_states`); the late and
    duplicate counts come from :func:`fermi_halfpipe.published.run_counts`. Empty without the tables.
    """
    wanted = None if run_ids is None else sorted({int(r) for r in run_ids if r is not None})
    if wanted is not None and not wanted:
        return {}
    states = published.run_states(session, runs=wanted, now=now)
    counts = run_counts(session, wanted) if states else {}
    out = {}
    for st in states:
        c = counts.get(int(st.run_id))
        out[int(st.run_id)] = HalfpipeState(
            run_id=int(st.run_id), status=st.state, label=LABELS.get(st.state, st.state),
            n_delivered=st.n_events, n_held=st.held_events, n_late=c.late if c else 0,
            n_duplicates=c.duplicate_datagrams if c else 0, reason=st.reason, n_lost=st.lost_events,
            revision=st.revision, deadline_utc=st.deadline_utc, deliveries_left=st.deliveries_left,
        )  # fmt: skip
    return out


def halfpipe_state_counts(session: Session, *, now: datetime | None = None) -> dict[str, int]:
    """``{state: number of halfpipe runs}`` over all runs (open runs judged at ``now``), every state present."""
    return dict(published.state_counts(session, now=now))


def halfpipe_runs(
    session: Session,
    states: list[str] | tuple[str, ...] | None = None,
    limit: int | None = None,
    offset: int = 0,
    *,
    now: datetime | None = None,
) -> list[published.RunState]:
    """The halfpipe's runs in ``states`` (all when None), by run id, open runs judged at ``now``."""
    return published.run_states(
        session, states=list(states) if states else None, limit=limit, offset=offset, now=now
    )


def halfpipe_runs_page(
    session: Session,
    states: list[str] | tuple[str, ...] | None = None,
    limit: int | None = None,
    offset: int = 0,
    *,
    now: datetime | None = None,
) -> Page[published.RunState]:
    """One page of :func:`halfpipe_runs` (default 50 rows) with the total from :func:`halfpipe_state_counts`."""
    limit, offset = clamp(limit, offset)
    counts = halfpipe_state_counts(session, now=now)
    total = sum(n for state, n in counts.items() if not states or state in states)
    return Page(halfpipe_runs(session, states, limit, offset, now=now), total, limit, offset)
