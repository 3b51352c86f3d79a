"""The halfpipe's view of each LAT run (events delivered, held back and late), from its published reader."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from fermi_halfpipe.published import run_counts

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
