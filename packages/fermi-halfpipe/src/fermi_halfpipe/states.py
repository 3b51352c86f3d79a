"""The published run states of the halfpipe and their one SQL definition.

A run's stored status (:mod:`fermi_halfpipe.models`) is ``open``, ``complete``, ``incomplete``,
``rejected``, ``mismatch`` (configuration keys not as planned: :mod:`fermi_halfpipe.runkeys`) or
``accepted``; an ``open`` run is published as ``held`` (data missing, deadline
not reached) or ``overdue`` (its deadline has passed and no settle has applied it yet). Whether
an open run's deadline has passed is :func:`fermi_halfpipe.rules.decide_at_deadline` applied to
the deadline stored on its row (the one in force when its data last arrived, or at the last
settle); :func:`state_column` is that same test in SQL, so the states can be counted by one
aggregate (:func:`fermi_halfpipe.published.state_counts`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import ColumnElement, and_, case, func, or_, select

from fermi_halfpipe import models as M

HELD = "held"
OVERDUE = "overdue"
#: Every published state, in the order an operator reads them.
STATES = (HELD, OVERDUE, M.COMPLETE, M.INCOMPLETE, M.REJECTED, M.MISMATCH, M.ACCEPTED)
#: The states Level 1 takes (:func:`fermi_halfpipe.published.retired_runs`).
RETIRED = (M.COMPLETE, M.INCOMPLETE, M.ACCEPTED)


def utcnow() -> datetime:
    """The wall time now, UTC (aware)."""
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """``value`` as an aware UTC datetime (SQLite returns stored UTC times naive)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def deliveries_without_data() -> ColumnElement[int]:
    """Per run (correlated): deliveries merged since the one that last brought it data."""
    return (
        select(func.count(M.HalfpipeDelivery.id))
        .where(
            M.HalfpipeDelivery.id > M.HalfpipeRun.last_data_delivery,
            M.HalfpipeDelivery.state == "done",
        )
        .correlate(M.HalfpipeRun)
        .scalar_subquery()
    )


def state_column(now: datetime) -> ColumnElement[str]:
    """The published state of each ``halfpipe_run`` row at wall time ``now`` (module docstring)."""
    now = as_utc(now)
    # SQLite keeps UTC times naive; PostgreSQL compares aware ones
    due_by_time = and_(M.HalfpipeRun.deadline_utc.is_not(None), M.HalfpipeRun.deadline_utc <= now)
    due_by_deliveries = deliveries_without_data() >= M.HalfpipeRun.deadline_deliveries
    return case(
        (
            M.HalfpipeRun.status == M.OPEN,
            case((or_(due_by_time, due_by_deliveries), OVERDUE), else_=HELD),
        ),
        else_=M.HalfpipeRun.status,
    )
