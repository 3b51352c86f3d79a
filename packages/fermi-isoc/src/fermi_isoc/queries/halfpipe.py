"""Queries over the halfpipe's run table: events delivered, held back and late per LAT run."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from fermi_halfpipe.models import HalfpipeRun

#: halfpipe run status -> what the page calls it
LABELS = {
    "open": "held back",
    "complete": "complete",
    "incomplete": "force-completed",
    "rejected": "rejected",
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
    if HalfpipeRun.__tablename__ not in set(inspect(session.get_bind()).get_table_names()):
        return {}
    query = select(HalfpipeRun).order_by(HalfpipeRun.run_id)
    if run_ids is not None:
        wanted = sorted({int(r) for r in run_ids if r is not None})
        if not wanted:
            return {}
        query = query.where(HalfpipeRun.run_id.in_(wanted))
    return {
        int(r.run_id): HalfpipeState(
            int(r.run_id),
            r.status,
            LABELS.get(r.status, r.status),
            int(r.n_delivered),
            int(r.n_held),
            int(r.n_late),
            int(r.n_duplicates),
            r.reason or "",
        )
        for r in session.scalars(query)
    }
