"""Tables of the data-quality monitoring (declared on the shared database base of fermi-core).

* :class:`Verdict` (``l1_monitor_verdict``) -- the checks' verdict on one run version: ``good``,
  ``warning`` or ``bad``, the failed checks (JSON list), the reference run it was compared with
  and the digest of the check configuration used;
* :class:`Reference` (``l1_monitor_reference``) -- the reference runs in the order they were set
  (the newest row is the one in force);
* :class:`SignOff` (``l1_monitor_signoff``) -- an operator's sign-off of a run version as good or
  bad, with who and why (every sign-off is kept; the newest of a run version is in force).

Made by migration ``l1_0004``; described in ``docs/lifecycle/monitoring.md``.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import BigInteger, DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fermi_core.db import Base


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Verdict(Base):
    """The verdict of the monitoring checks on one run version (one row per run version)."""

    __tablename__ = "l1_monitor_verdict"
    __table_args__ = (UniqueConstraint("run", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run: Mapped[int] = mapped_column(BigInteger, index=True)
    version: Mapped[int] = mapped_column(Integer)
    verdict: Mapped[str] = mapped_column(String(8), index=True)
    checks: Mapped[str] = mapped_column(Text)
    n_checks: Mapped[int] = mapped_column(Integer)
    reference_run: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    reference_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    config_digest: Mapped[str] = mapped_column(String(64))
    evaluated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Reference(Base):
    """A reference run as set by an operator (the newest row is in force)."""

    __tablename__ = "l1_monitor_reference"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer)
    set_by: Mapped[str] = mapped_column(String(128))
    set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class SignOff(Base):
    """An operator's sign-off of one run version as ``good`` or ``bad`` (newest in force)."""

    __tablename__ = "l1_monitor_signoff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run: Mapped[int] = mapped_column(BigInteger, index=True)
    version: Mapped[int] = mapped_column(Integer)
    verdict: Mapped[str] = mapped_column(String(8))
    signed_by: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
