"""Tables of fermi-ingest: deliveries, files, per-APID spans, gaps, chunks, quarantined bytes."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import BigInteger, DateTime, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fermi_core.db import Base


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Delivery(Base):
    """One delivery from GSFC, registered once."""

    __tablename__ = "ingest_delivery"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(32), unique=True)
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    scid: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    archive_dir: Mapped[str] = mapped_column(String(1024))
    n_files: Mapped[int] = mapped_column(Integer)
    n_bytes: Mapped[int] = mapped_column(BigInteger)
    n_packets: Mapped[int] = mapped_column(BigInteger)
    n_quarantined: Mapped[int] = mapped_column(Integer)
    quarantined_bytes: Mapped[int] = mapped_column(BigInteger)
    met_start: Mapped[float | None] = mapped_column(Float, nullable=True)
    met_stop: Mapped[float | None] = mapped_column(Float, nullable=True)
    ingested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)

    files: Mapped[list[DeliveryFile]] = relationship(
        back_populates="delivery", order_by="DeliveryFile.position"
    )
    chunks: Mapped[list[Chunk]] = relationship(back_populates="delivery", order_by="Chunk.number")


class DeliveryFile(Base):
    """One packet file of a delivery, as archived."""

    __tablename__ = "ingest_file"
    __table_args__ = (UniqueConstraint("delivery_pk", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_pk: Mapped[int] = mapped_column(ForeignKey("ingest_delivery.id"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    archive_path: Mapped[str] = mapped_column(String(1024))
    n_packets: Mapped[int] = mapped_column(BigInteger)
    good_bytes: Mapped[int] = mapped_column(BigInteger)
    quarantined_bytes: Mapped[int] = mapped_column(BigInteger)

    delivery: Mapped[Delivery] = relationship(back_populates="files")


class ApidSpan(Base):
    """The packets of one APID in one file: counts, sequence and time range."""

    __tablename__ = "ingest_apid_span"
    # the gap finder's questions: the span of an APID just before a time (ingest_0002), and the
    # one just after (ingest_0003)
    __table_args__ = (
        Index("ix_ingest_apid_span_apid_met_stop", "apid", "met_stop"),
        Index("ix_ingest_apid_span_apid_met_start", "apid", "met_start"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_pk: Mapped[int] = mapped_column(ForeignKey("ingest_delivery.id"), index=True)
    file_pk: Mapped[int] = mapped_column(ForeignKey("ingest_file.id"))
    apid: Mapped[int] = mapped_column(Integer, index=True)
    n_packets: Mapped[int] = mapped_column(BigInteger)
    first_seq: Mapped[int] = mapped_column(Integer)
    last_seq: Mapped[int] = mapped_column(Integer)
    met_start: Mapped[float] = mapped_column(Float)
    met_stop: Mapped[float] = mapped_column(Float)
    first_offset: Mapped[int] = mapped_column(BigInteger)
    last_offset: Mapped[int] = mapped_column(BigInteger)


class Gap(Base):
    """A discontinuity of one APID's packet stream (sequence count or time)."""

    __tablename__ = "ingest_gap"
    # the gap finder's question: the open gaps of an APID (ingest_0002)
    __table_args__ = (Index("ix_ingest_gap_apid_status", "apid", "status", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    apid: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "sequence", "time" or "datagram"
    # packets (datagrams for kind "datagram") missing by the counter; 0 for time gaps
    missing: Mapped[int] = mapped_column(Integer)
    seq_before: Mapped[int] = mapped_column(Integer)
    seq_after: Mapped[int] = mapped_column(Integer)
    met_before: Mapped[float] = mapped_column(Float)
    met_after: Mapped[float] = mapped_column(Float)
    delivery_before_pk: Mapped[int] = mapped_column(ForeignKey("ingest_delivery.id"))
    delivery_after_pk: Mapped[int] = mapped_column(ForeignKey("ingest_delivery.id"))
    found_by_pk: Mapped[int] = mapped_column(ForeignKey("ingest_delivery.id"))
    status: Mapped[str] = mapped_column(String(16), default="open")  # "open" or "filled"
    filled_by_pk: Mapped[int | None] = mapped_column(ForeignKey("ingest_delivery.id"), nullable=True)


class Chunk(Base):
    """A piece of a delivery handed to the datagram decoder (at most 20 per delivery)."""

    __tablename__ = "ingest_chunk"
    __table_args__ = (UniqueConstraint("delivery_pk", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_pk: Mapped[int] = mapped_column(ForeignKey("ingest_delivery.id"))
    number: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    apids: Mapped[str] = mapped_column(String(255))
    met_start: Mapped[float] = mapped_column(Float)
    met_stop: Mapped[float] = mapped_column(Float)
    n_packets: Mapped[int] = mapped_column(BigInteger)
    n_datagrams: Mapped[int] = mapped_column(BigInteger)
    n_bytes: Mapped[int] = mapped_column(BigInteger)
    json_path: Mapped[str] = mapped_column(String(1024))
    xml_path: Mapped[str] = mapped_column(String(1024))

    delivery: Mapped[Delivery] = relationship(back_populates="chunks")


class QuarantinedSpan(Base):
    """Bytes set aside: malformed, duplicated or out-of-order packets (kept byte-exact)."""

    __tablename__ = "ingest_quarantine"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_pk: Mapped[int] = mapped_column(ForeignKey("ingest_delivery.id"), index=True)
    file_pk: Mapped[int] = mapped_column(ForeignKey("ingest_file.id"))
    offset: Mapped[int] = mapped_column(BigInteger)
    length: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(64))
    apid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    path: Mapped[str] = mapped_column(String(1024))
