"""Tables of the data catalog (declared on the shared database base of fermi-ingest)."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import BigInteger, DateTime, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fermi_core.db import Base


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Dataset(Base):
    """One registered product file (one version of one logical dataset)."""

    __tablename__ = "l1_catalog_dataset"
    __table_args__ = (UniqueConstraint("logical_path", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    logical_path: Mapped[str] = mapped_column(String(512), index=True)
    file_path: Mapped[str] = mapped_column(String(1024))
    data_type: Mapped[str] = mapped_column(String(32), index=True)
    version: Mapped[int] = mapped_column(Integer)
    run: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    met_start: Mapped[float] = mapped_column(Float)
    met_stop: Mapped[float] = mapped_column(Float)
    size: Mapped[int] = mapped_column(BigInteger)
    checksum: Mapped[str] = mapped_column(String(64))
    creator: Mapped[str] = mapped_column(String(128))
    provenance: Mapped[str] = mapped_column(Text)
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
