"""Queries over fermi-ingest's tables: deliveries, gaps, chunks, quarantined spans."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased

from fermi_ingest.models import Chunk, Delivery, Gap, QuarantinedSpan
from fermi_isoc.queries.pages import Page, clamp


def _utc(t: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes: they are UTC."""
    if t is None:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class DeliveryInfo:
    """One delivery with its counts."""

    pk: int
    delivery_id: str
    state: str
    ingested_at: datetime
    met_start: float | None
    met_stop: float | None
    n_files: int
    n_bytes: int
    n_packets: int
    n_quarantined: int
    n_chunks: int
    n_open_gaps: int
    archive_dir: str


@dataclass(frozen=True)
class GapInfo:
    """A gap in one APID's stream, when it was found and whether a later delivery filled it."""

    pk: int
    apid: int
    kind: str
    missing: int
    met_before: float
    met_after: float
    status: str
    found_by: str
    found_at: datetime
    filled_by: str | None


@dataclass(frozen=True)
class ChunkInfo:
    """A chunk of a delivery and the run it belongs to."""

    number: int
    run_id: int | None
    apids: str
    met_start: float
    met_stop: float
    n_packets: int
    n_datagrams: int


@dataclass(frozen=True)
class QuarantineInfo:
    """Quarantined bytes of a delivery."""

    offset: int
    length: int
    reason: str
    apid: int | None
    path: str


def _deliveries(session: Session, where, limit: int | None, offset: int) -> list[DeliveryInfo]:
    n_chunks = (
        select(Chunk.delivery_pk, func.count(Chunk.id).label("n")).group_by(Chunk.delivery_pk).subquery()
    )
    n_gaps = (
        select(Gap.found_by_pk, func.count(Gap.id).label("n"))
        .where(Gap.status == "open")
        .group_by(Gap.found_by_pk)
        .subquery()
    )
    query = (
        select(Delivery, func.coalesce(n_chunks.c.n, 0), func.coalesce(n_gaps.c.n, 0))
        .outerjoin(n_chunks, n_chunks.c.delivery_pk == Delivery.id)
        .outerjoin(n_gaps, n_gaps.c.found_by_pk == Delivery.id)
        .order_by(Delivery.ingested_at.desc(), Delivery.id.desc())
    )
    if where is not None:
        query = query.where(where)
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    rows = session.execute(query).all()
    return [
        DeliveryInfo(
            d.id, d.delivery_id, d.state, _utc(d.ingested_at), d.met_start, d.met_stop, d.n_files,
            d.n_bytes, d.n_packets, d.n_quarantined, int(nc), int(ng), d.archive_dir,
        )
        for d, nc, ng in rows
    ]  # fmt: skip


def deliveries(session: Session, limit: int | None = 200, offset: int = 0) -> list[DeliveryInfo]:
    """Deliveries, newest first, with chunk and open-gap counts (``limit=None``: all)."""
    return _deliveries(session, None, limit, offset)


def count_deliveries(session: Session) -> int:
    """How many deliveries were registered, counted by the database."""
    return int(session.scalar(select(func.count(Delivery.id))) or 0)


def deliveries_page(session: Session, limit: int | None = None, offset: int = 0) -> Page[DeliveryInfo]:
    """One page of :func:`deliveries` (default 50 rows) with the total count."""
    limit, offset = clamp(limit, offset)
    return Page(deliveries(session, limit, offset), count_deliveries(session), limit, offset)


def delivery_by_id(session: Session, delivery_id: str) -> DeliveryInfo | None:
    """One delivery by its id, or None."""
    found = _deliveries(session, Delivery.delivery_id == delivery_id, 1, 0)
    return found[0] if found else None


def last_delivery_time(session: Session) -> datetime | None:
    """When the newest delivery was registered (None when there is none)."""
    return _utc(session.scalar(select(func.max(Delivery.ingested_at))))


def _gap_rows(session: Session, where) -> list[GapInfo]:
    found = aliased(Delivery)
    filled = aliased(Delivery)
    rows = session.execute(
        select(Gap, found.delivery_id, found.ingested_at, filled.delivery_id)
        .join(found, found.id == Gap.found_by_pk)
        .outerjoin(filled, filled.id == Gap.filled_by_pk)
        .where(where)
        .order_by(Gap.met_before)
    ).all()
    return [
        GapInfo(g.id, g.apid, g.kind, g.missing, g.met_before, g.met_after, g.status, f, _utc(at), fb)
        for g, f, at, fb in rows
    ]


def open_gaps(session: Session) -> list[GapInfo]:
    """Gaps not filled by any later delivery."""
    return _gap_rows(session, Gap.status == "open")


def count_open_gaps(session: Session) -> int:
    """How many gaps no later delivery filled, counted by the database."""
    return int(session.scalar(select(func.count(Gap.id)).where(Gap.status == "open")) or 0)


def gaps_of(session: Session, delivery_pk: int) -> list[GapInfo]:
    """Gaps found by, bordering or filled by a delivery."""
    return _gap_rows(
        session,
        or_(
            Gap.found_by_pk == delivery_pk,
            Gap.delivery_before_pk == delivery_pk,
            Gap.delivery_after_pk == delivery_pk,
            Gap.filled_by_pk == delivery_pk,
        ),
    )


def chunks_of(session: Session, delivery_pk: int) -> list[ChunkInfo]:
    """Chunks of a delivery in order."""
    rows = session.scalars(select(Chunk).where(Chunk.delivery_pk == delivery_pk).order_by(Chunk.number))
    return [
        ChunkInfo(c.number, c.run_id, c.apids, c.met_start, c.met_stop, c.n_packets, c.n_datagrams)
        for c in rows
    ]


def quarantine_of(session: Session, delivery_pk: int) -> list[QuarantineInfo]:
    """Quarantined spans of a delivery."""
    rows = session.scalars(
        select(QuarantinedSpan).where(QuarantinedSpan.delivery_pk == delivery_pk).order_by(QuarantinedSpan.id)
    )
    return [QuarantineInfo(q.offset, q.length, q.reason, q.apid, q.path) for q in rows]
