"""Alarm acknowledgements: an acknowledged item is shown as such and stops paging until its
severity changes (then the acknowledgement lapses and the alarm pages again)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fermi_isoc.alarms.results import AlarmResult, Severity
from fermi_isoc.models import AlarmAck
from fermi_isoc.queries.tables import has_tables


class AckError(ValueError):
    """An acknowledgement that cannot be recorded; ``status`` is the matching HTTP status."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


def _available(session: Session) -> bool:
    return has_tables(session, AlarmAck.__tablename__)


def apply_acks(session: Session, results: list[AlarmResult], now: datetime) -> list[AlarmResult]:
    """Mark acknowledged results; lapse acknowledgements whose item changed severity (not committed)."""
    if not _available(session):
        return results
    active = {
        (a.alarm, a.key): a
        for a in session.scalars(select(AlarmAck).where(AlarmAck.lapsed_at.is_(None)).order_by(AlarmAck.id))
    }
    seen = set()
    out = []
    for r in results:
        ack = active.get((r.alarm, r.key))
        if ack is not None:
            seen.add((r.alarm, r.key))
            if r.firing and int(r.severity) == ack.severity:
                note = f"{ack.acknowledged_by} at {ack.acknowledged_at:%Y-%m-%d %H:%M} UTC"
                r = replace(r, acknowledged=note + (f": {ack.note}" if ack.note else ""))
            else:
                ack.lapsed_at = now
        out.append(r)
    for item, ack in active.items():  # the item is gone (e.g. the run is done): nothing left to acknowledge
        if item not in seen:
            ack.lapsed_at = now
    return out


def acknowledge(
    session: Session, results: list[AlarmResult], alarm: str, key: str, who: str, note: str, now: datetime
) -> AlarmAck:
    """Record ``who`` acknowledging the alarm item ``alarm``/``key`` at its current severity."""
    who = who.strip()
    if not who:
        raise AckError("operator name is required", status=422)
    match = [r for r in results if r.alarm == alarm and r.key == key]
    if not match:
        raise AckError(f"no alarm {alarm!r} with item {key!r}", status=404)
    r = match[0]
    if not r.firing or r.severity == Severity.OK:
        raise AckError(f"alarm {alarm} ({key}) is not a warning or an error: nothing to acknowledge")
    session.execute(
        update(AlarmAck)
        .where(AlarmAck.alarm == alarm, AlarmAck.key == key, AlarmAck.lapsed_at.is_(None))
        .values(lapsed_at=now)
    )
    ack = AlarmAck(alarm=alarm, key=key, severity=int(r.severity), acknowledged_by=who, note=note.strip(),
                   acknowledged_at=now)  # fmt: skip
    session.add(ack)
    session.flush()
    return ack
