"""What fermi-ingest publishes for the next stage: the packets it accepted, per delivery.

The halfpipe (and any other reader of Level 0) takes a delivery's packets from here, never from
the archive itself: :func:`accepted_packets` reads the delivery's archived files as registered
by the ingest (file list, home-relative archive paths, SHA-256 and quarantined byte spans in the
ingest's own tables), **verifies each file against its registered SHA-256**, and leaves out
every packet the ingest quarantined (malformed, duplicate or out of order). The result is
exactly the set of packets the ingest accepted and cut into chunks, in arrival order (files in
manifest order, packets in file order).

Paths are resolved against the :class:`fermi_core.site.Site` passed in, so a data home copied
elsewhere reads (and verifies) its own archive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from fermi_core.checksum import sha256_bytes
from fermi_core.site import Site
from fermi_ingest.ccsds.constants import HEADER_LENGTH
from fermi_ingest.ccsds.decode import decode_buffer
from fermi_ingest.errors import IngestError
from fermi_ingest.models import Delivery, DeliveryFile, QuarantinedSpan

#: Largest packet the reader decodes (the CCSDS maximum: everything the ingest accepted).
MAX_PACKET_LENGTH = 65542


class NotIngested(IngestError):
    """The delivery is not registered by the ingest."""


class ArchiveDamaged(IngestError):
    """An archived file is missing, unreadable, or differs from its registered SHA-256 (names it)."""


@dataclass
class AcceptedPackets:
    """Packets as columns, in arrival order.

    ``payload_offset``/``payload_length`` locate each payload in ``payload``; ``source_index``
    and ``source_offset`` say which file (``source_names``, ``<delivery>/<file name>``) and byte
    offset each packet came from.
    """

    apid: np.ndarray
    seq_flags: np.ndarray
    seq_count: np.ndarray
    sec: np.ndarray
    usec: np.ndarray
    payload: np.ndarray
    payload_offset: np.ndarray
    payload_length: np.ndarray
    source_names: list[str]
    source_index: np.ndarray
    source_offset: np.ndarray

    def __len__(self) -> int:
        return int(self.apid.shape[0])

    @classmethod
    def empty(cls) -> AcceptedPackets:
        """No packet."""
        e = np.empty(0, np.int64)
        return cls(e, e, e, e, e, np.empty(0, np.uint8), e, e, [], e, e)

    @classmethod
    def from_columns(cls, cols, name: str = "<memory>") -> AcceptedPackets:
        """From :class:`fermi_ingest.ccsds.encode.PacketColumns`, as if encoded into one file ``name``."""
        plen = np.asarray(cols.payload_length, dtype=np.int64)
        start = np.cumsum(plen) - plen
        file_off = start + HEADER_LENGTH * np.arange(plen.size, dtype=np.int64)
        return cls(
            apid=np.asarray(cols.apid, np.int64),
            seq_flags=np.asarray(cols.seq_flags, np.int64),
            seq_count=np.asarray(cols.seq_count, np.int64),
            sec=np.asarray(cols.sec, np.int64),
            usec=np.asarray(cols.usec, np.int64),
            payload=np.asarray(cols.payload, np.uint8),
            payload_offset=start,
            payload_length=plen,
            source_names=[name],
            source_index=np.zeros(plen.size, np.int64),
            source_offset=file_off,
        )

    def select(self, mask: np.ndarray) -> AcceptedPackets:
        """The packets where ``mask`` is true (payload buffer and source names shared)."""
        return AcceptedPackets(
            **{
                k: (getattr(self, k)[mask] if k not in ("payload", "source_names") else getattr(self, k))
                for k in self.__dataclass_fields__
            }
        )


def _read_into(path, out: np.ndarray, delivery_id: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Read the file ``path`` into ``out`` (its registered size); the bytes read, as a view of ``out``.

    A file of another size is returned as read (shorter) or as its registered size plus one
    byte read (longer): its SHA-256 then differs from the registered one.
    """
    try:
        with open(path, "rb", buffering=0) as fh:
            n, view = 0, memoryview(out)
            while n < out.size and (got := fh.readinto(view[n:])):
                n += got
            if n == out.size and fh.read(1):  # longer than registered: damaged
                return np.concatenate([out, np.zeros(1, np.uint8)])
    except OSError as exc:
        raise ArchiveDamaged(f"delivery {delivery_id}: archived file {path}: {exc.strerror}") from exc
    return out[:n]


def accepted_packets(session: Session, site: Site, delivery_id: str) -> AcceptedPackets:
    """Return the packets the ingest accepted of delivery ``delivery_id`` (module docstring).

    Raises
    ------
    NotIngested
        The delivery is not registered.
    ArchiveDamaged
        An archived file is missing or unreadable, or its bytes differ from the SHA-256 the
        ingest registered (the message names the file).
    """
    dl = session.scalar(select(Delivery).where(Delivery.delivery_id == delivery_id))
    if dl is None:
        raise NotIngested(f"delivery {delivery_id}: not ingested (run 'fermi-ingest ingest' first)")
    files = list(
        session.scalars(
            select(DeliveryFile).where(DeliveryFile.delivery_pk == dl.id).order_by(DeliveryFile.position)
        )
    )
    quarantined = {
        f.id: session.execute(
            select(QuarantinedSpan.offset, QuarantinedSpan.length).where(QuarantinedSpan.file_pk == f.id)
        ).all()
        for f in files
    }
    if not files:
        return AcceptedPackets.empty()
    # every file read once, straight into its place in one buffer (the payloads' buffer: no copy)
    payload = np.empty(sum(int(f.size) for f in files), dtype=np.uint8)
    parts = []
    base = 0
    for i, f in enumerate(files):
        path = site.resolve(f.archive_path)
        raw = _read_into(path, payload[base : base + int(f.size)], delivery_id)
        if sha256_bytes(memoryview(raw)) != f.sha256:
            raise ArchiveDamaged(
                f"delivery {delivery_id}: archived file {path} differs from its registered SHA-256"
            )
        table = decode_buffer(raw, f"{delivery_id}/{f.name}", apids=None, max_packet_length=MAX_PACKET_LENGTH)
        keep = np.ones(len(table), dtype=bool)
        for off, ln in quarantined[f.id]:
            keep &= ~((table.offset >= off) & (table.offset < off + ln))
        parts.append((i, table, keep, base))
        base += table.size

    def cat(get) -> np.ndarray:
        return np.concatenate([get(i, t, keep, b) for i, t, keep, b in parts]).astype(np.int64)

    return AcceptedPackets(
        apid=cat(lambda i, t, k, b: t.apid[k]),
        seq_flags=cat(lambda i, t, k, b: t.seq_flags[k]),
        seq_count=cat(lambda i, t, k, b: t.seq_count[k]),
        sec=cat(lambda i, t, k, b: t.sec[k]),
        usec=cat(lambda i, t, k, b: t.usec[k]),
        payload=payload[:base],
        payload_offset=cat(lambda i, t, k, b: t.payload_offset[k] + b),
        payload_length=cat(lambda i, t, k, b: t.payload_length[k]),
        source_names=[f"{delivery_id}/{f.name}" for f in files],
        source_index=cat(lambda i, t, k, b: np.full(int(k.sum()), i, dtype=np.int64)),
        source_offset=cat(lambda i, t, k, b: t.offset[k]),
    )
