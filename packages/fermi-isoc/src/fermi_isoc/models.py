"""isoc's own tables: its only writes are re-run requests (and measurements fed to trending).

Declared on the shared declarative base of :mod:`fermi_ingest.db`, so ``get_engine`` creates them
with everyone else's once this module is imported.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fermi_ingest.db import Base


def _now() -> datetime:
    return datetime.now(timezone.utc)


class RerunRequest(Base):
    """A request to re-run a failed step or a whole run, with who asked and why."""

    __tablename__ = "isoc_rerun_request"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_key: Mapped[str] = mapped_column(String(128), index=True)
    step: Mapped[str | None] = mapped_column(String(128), nullable=True)  # None: the whole run
    requested_by: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(16))  # "web" or "cli"
    state: Mapped[str] = mapped_column(String(16), default="requested")  # requested | queued | refused
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


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
