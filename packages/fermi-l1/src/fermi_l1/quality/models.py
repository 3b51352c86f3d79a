"""Table of the bad time intervals (declared on the shared database base of fermi-core).

:class:`QualityInterval` (``l1_quality_interval``) -- one bad time interval ``[start_met,
stop_met)`` with the ``DATA_QUAL`` value it puts into the FT2 rows it overlaps, why, who, and
whether an operator or the automatic rate check recorded it. A removed interval keeps its row
(``active`` false, with who removed it, when and why), so every flag ever set can be read back.

Made by migration ``l1_0005``; described in ``docs/lifecycle/bad-time-intervals.md``.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Boolean, DateTime, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fermi_core.db import Base


def _now() -> datetime:
    return datetime.now(timezone.utc)


class QualityInterval(Base):
    """One bad time interval (active, or removed with who/why/when)."""

    __tablename__ = "l1_quality_interval"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    start_met: Mapped[float] = mapped_column(Float)
    stop_met: Mapped[float] = mapped_column(Float)
    data_qual: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    who: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    removed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    removed_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
