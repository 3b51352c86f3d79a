"""Bad time intervals: record (``flag``), remove (``unflag``) and read (``list_intervals``).

A bad time interval ``[start, stop)`` (MET) marks time the data-quality shifter -- or the
automatic rate check (:mod:`fermi_l1.quality.auto`) -- judges unusable: a solar flare, an
instrument anomaly, a rate excursion. The next L1 pass re-issues every run it overlaps as the
next product version (:func:`fermi_l1.versions.plan_versions`) with the FT2 ``DATA_QUAL`` of the
overlapped rows set to the interval's value (:mod:`fermi_l1.ft2.quality`) and the FT1 GTIs
following. Removing an interval keeps its row (who, when, why) and re-issues the runs again.
See ``docs/lifecycle/bad-time-intervals.md`` (FSSC ``DATA_QUAL`` convention, with sources).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fermi_core.errors import BadInput
from fermi_l1.quality.models import QualityInterval

#: who may record an interval
SOURCES = ("operator", "auto")
#: ``DATA_QUAL`` of a bad time interval unless another (non-positive) value is given: "bad"
BAD = 0


class QualityError(BadInput, ValueError):
    """A bad time interval that cannot be recorded or removed (the message says why)."""


@dataclass(frozen=True)
class BadTimeInterval:
    """One recorded bad time interval (see :class:`fermi_l1.quality.models.QualityInterval`)."""

    id: int
    start_met: float
    stop_met: float
    data_qual: int
    reason: str
    who: str
    source: str
    detail: dict[str, Any]
    created_at: datetime
    active: bool
    removed_by: str | None
    removed_reason: str | None
    removed_at: datetime | None

    @classmethod
    def of(cls, row: QualityInterval) -> BadTimeInterval:
        """The interval of a table row."""
        return cls(int(row.id), float(row.start_met), float(row.stop_met), int(row.data_qual), row.reason,
                   row.who, row.source, json.loads(row.detail) if row.detail else {}, row.created_at,
                   bool(row.active), row.removed_by, row.removed_reason, row.removed_at)  # fmt: skip

    @property
    def duration(self) -> float:
        """Length of the interval, s."""
        return self.stop_met - self.start_met

    def plan_entry(self) -> dict[str, Any]:
        """What a run version's plan records of this interval (enough to set ``DATA_QUAL``)."""
        return {"id": self.id, "start": self.start_met, "stop": self.stop_met, "data_qual": self.data_qual}


def _text(value: str, what: str) -> str:
    text = str(value or "").strip()
    if not text:
        raise QualityError(f"a bad time interval needs {what} (got an empty one)")
    return text


def flag(
    session: Session,
    start_met: float,
    stop_met: float,
    *,
    reason: str,
    who: str,
    source: str = "operator",
    data_qual: int = BAD,
    detail: Mapping[str, Any] | None = None,
) -> int:
    """Record the bad time interval ``[start_met, stop_met)``; return its id.

    Parameters
    ----------
    session
        Database session (committed by the caller).
    start_met, stop_met
        The interval, MET seconds; ``stop_met`` after ``start_met``.
    reason, who
        Why (e.g. "solar flare", "ACD anomaly") and who records it (both required).
    source
        ``"operator"`` (a shifter) or ``"auto"`` (:mod:`fermi_l1.quality.auto`).
    data_qual
        The ``DATA_QUAL`` the FT2 rows it overlaps get: 0 (bad, the default) or a negative
        value (FSSC convention: non-positive means excluded by ``DATA_QUAL>0``).
    detail
        JSON-serialisable evidence (the automatic check records the rates it saw).

    Raises
    ------
    QualityError
        Not finite, empty or reversed span; empty reason or who; unknown source; positive
        ``data_qual``.
    """
    start, stop = float(start_met), float(stop_met)
    if not (math.isfinite(start) and math.isfinite(stop)) or not stop > start:
        raise QualityError(f"bad time interval [{start_met!r}, {stop_met!r}): stop must be after start")
    if source not in SOURCES:
        raise QualityError(f"bad time interval source {source!r}: one of {', '.join(SOURCES)}")
    if int(data_qual) > 0:
        raise QualityError(
            f"DATA_QUAL {data_qual} of a bad time interval must be 0 or negative (positive values are "
            "usable data: they pass DATA_QUAL>0)"
        )
    row = QualityInterval(start_met=start, stop_met=stop, data_qual=int(data_qual), reason=_text(reason, "a reason"),
                          who=_text(who, "who records it"), source=source,
                          detail=json.dumps(dict(detail or {}), sort_keys=True), active=True)  # fmt: skip
    session.add(row)
    session.flush()
    return int(row.id)


def unflag(session: Session, interval_id: int, *, who: str, reason: str) -> BadTimeInterval:
    """Remove the bad time interval ``interval_id`` (its row stays, marked removed by ``who``).

    Raises
    ------
    QualityError
        No such interval, already removed, or empty ``who``/``reason``.
    """
    row = session.get(QualityInterval, int(interval_id))
    if row is None:
        raise QualityError(f"no bad time interval {interval_id}")
    if not row.active:
        raise QualityError(
            f"bad time interval {interval_id} was already removed by {row.removed_by} "
            f"({row.removed_at:%Y-%m-%d %H:%M:%S} UTC): {row.removed_reason}"
        )
    row.removed_by = _text(who, "who removes it")
    row.removed_reason = _text(reason, "a reason for removing it")
    row.removed_at = datetime.now(timezone.utc)
    row.active = False
    session.flush()
    return BadTimeInterval.of(row)


def list_intervals(session: Session, *, active_only: bool = True) -> list[BadTimeInterval]:
    """The recorded intervals (only the active ones unless ``active_only`` is false), by start then id."""
    stmt = select(QualityInterval).order_by(QualityInterval.start_met, QualityInterval.id)
    if active_only:
        stmt = stmt.where(QualityInterval.active.is_(True))
    return [BadTimeInterval.of(r) for r in session.scalars(stmt)]


def overlapping(session: Session, start_met: float, stop_met: float) -> list[BadTimeInterval]:
    """The active intervals that overlap ``[start_met, stop_met)`` (touching is not overlapping), by id."""
    stmt = (
        select(QualityInterval)
        .where(QualityInterval.active.is_(True), QualityInterval.start_met < float(stop_met),
               QualityInterval.stop_met > float(start_met))
        .order_by(QualityInterval.id)
    )  # fmt: skip
    return [BadTimeInterval.of(r) for r in session.scalars(stmt)]


def bad_times(session: Session, start_met: float, stop_met: float) -> list[dict[str, Any]]:
    """The plan entries (:meth:`BadTimeInterval.plan_entry`) of the active intervals overlapping a span."""
    return [i.plan_entry() for i in overlapping(session, start_met, stop_met)]


def bad_times_in(
    intervals: Iterable[BadTimeInterval], start_met: float, stop_met: float
) -> list[dict[str, Any]]:
    """Like :func:`bad_times`, from intervals read already (e.g. every active one, read once per pass)."""
    found = [
        i for i in intervals if i.active and i.start_met < float(stop_met) and i.stop_met > float(start_met)
    ]
    return [i.plan_entry() for i in sorted(found, key=lambda i: i.id)]
