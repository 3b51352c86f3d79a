"""isoc's own tables: alarm acknowledgements, job records, trending samples and archive copies.

Re-run requests belong to the task engine (:mod:`fermi_core.engine.rerun`): the driver acts on them.

Declared on the shared declarative base of :mod:`fermi_core.db`, so ``get_engine`` creates them
with everyone else's once this module is imported.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fermi_core.db import Base


def _now() -> datetime:
    return datetime.now(timezone.utc)


class AlarmAck(Base):
    """An operator's acknowledgement of one alarm item at one severity.

    While the item stays at that severity it is shown as acknowledged and does not page (exit
    code, Prometheus ``firing``); when the severity changes the acknowledgement lapses
    (``lapsed_at``) and the alarm pages again.
    """

    __tablename__ = "isoc_alarm_ack"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alarm: Mapped[str] = mapped_column(String(128), index=True)
    key: Mapped[str] = mapped_column(String(255))
    severity: Mapped[int] = mapped_column(Integer)  # 1 warning, 2 error
    acknowledged_by: Mapped[str] = mapped_column(String(128))
    note: Mapped[str] = mapped_column(Text, default="")
    acknowledged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    lapsed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class JobRecord(Base):
    """A scheduled isoc job (alarms, retention, report): who runs it now and its last success."""

    __tablename__ = "isoc_job"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    period_s: Mapped[float] = mapped_column(Float)
    owner: Mapped[str] = mapped_column(String(255), default="")  # "host:pid" while running, else ""
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_success: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_failure: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")


class MetricSample(Base):
    """One measured value of a trended quantity (trigger rate, livetime fraction, ...)."""

    __tablename__ = "isoc_metric_sample"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    quantity: Mapped[str] = mapped_column(String(64), index=True)
    key: Mapped[str] = mapped_column(String(128), default="")  # e.g. a run or a tower
    met: Mapped[float] = mapped_column(Float, index=True)
    value: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(1024), default="")


class ArchiveCopy(Base):
    """A raw delivery file copied to the archive area (tape stand-in), and what became of it."""

    __tablename__ = "isoc_archive_copy"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(255))
    local_path: Mapped[str] = mapped_column(String(1024))
    archive_path: Mapped[str] = mapped_column(String(1024))
    sha256: Mapped[str] = mapped_column(String(64))
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    local_deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
