"""The halfpipe's view of each LAT run (events delivered, held back and late), from its published reader.

Everything here goes through :mod:`fermi_halfpipe.published` (the halfpipe's tables are its own):
:func:`halfpipe_states` per run, :func:`halfpipe_state_counts` (one SQL aggregate over all runs)
and :func:`halfpipe_runs` (the runs in given states, e.g. ``held``, ``overdue``, ``rejected``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from fermi_halfpipe import published
from fermi_halfpipe.published import run_counts
from fermi_isoc.queries.pages import Page, clamp

#: halfpipe run status -> what the page calls it
LABELS = {
    "open": "held back",
    "held": "held back",
    "overdue": "overdue",
    "complete": "complete",
    "incomplete": "incomplete",
    "rejected": "rejected",
    "accepted": "accepted",
}


@dataclass(frozen=True)
class HalfpipeState:
    """The halfpipe's view of one LAT run."""

    run_id: int
    status: str
    label: str
    n_delivered: int
    n_held: int
    n_late: int
    n_duplicates: int
    reason: str


def halfpipe_states(session: Session, run_ids: list[int | None] | None = None) -> dict[int, HalfpipeState]:
    """``{LAT run id: state}`` of the given runs (all when ``run_ids`` is None); empty without the table."""
    return {
        run_id: HalfpipeState(
            run_id,
            c.status,
            LABELS.get(c.status, c.status),
            c.delivered,
            c.held_back,
            c.late,
            c.duplicate_datagrams,
            c.reason,
        )
        for run_id, c in run_counts(session, run_ids).items()
    }


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
