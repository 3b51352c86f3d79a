"""What fermi-ingest publishes for the next stage: the packets it accepted, per delivery.

The halfpipe (and any other reader of Level 0) takes a delivery's packets from here, never from
the archive itself: :func:`accepted_packets` reads the delivery's archived files as registered
by the ingest (file list, home-relative archive paths, SHA-256 and quarantined byte spans in the
ingest's own tables), **verifies each file against its registered SHA-256**, and leaves out
every packet the ingest quarantined (malformed, duplicate or out of order). The result is
exactly the set of packets the ingest accepted and cut into chunks, in arrival order (files in
manifest order, packets in file order).

:func:`delivery_pieces` gives the same packets piece by piece (a fixed byte budget, files read
in windows and hashed as they are read), so a reader's memory does not grow with the delivery.

Paths are resolved against the :class:`fermi_core.site.Site` passed in, so a data home copied
elsewhere reads (and verifies) its own archive.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

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

    @classmethod
    def concatenate(cls, parts: Sequence[AcceptedPackets], source_names: list[str]) -> AcceptedPackets:
        """The packets of ``parts`` one after the other, their payloads copied into one buffer.

        Of each part's buffer only the bytes from its first to its last payload are copied.
        Every part must index the same ``source_names``.
        """
        if len(parts) == 1:
            return parts[0]
        if not parts:
            out = cls.empty()
            out.source_names = list(source_names)
            return out
        spans = [
            (int(p.payload_offset.min()), int((p.payload_offset + p.payload_length).max()))
            if len(p)
            else (0, 0)
            for p in parts
        ]
        base = np.cumsum([0] + [hi - lo for lo, hi in spans[:-1]])

        def cat(name: str) -> np.ndarray:
            return np.concatenate([getattr(p, name) for p in parts]).astype(np.int64)

        return cls(
            apid=cat("apid"),
            seq_flags=cat("seq_flags"),
            seq_count=cat("seq_count"),
            sec=cat("sec"),
            usec=cat("usec"),
            payload=np.concatenate([p.payload[lo:hi] for p, (lo, hi) in zip(parts, spans, strict=True)]),
            payload_offset=np.concatenate(
                [p.payload_offset - lo + b for p, (lo, _), b in zip(parts, spans, base, strict=True)]
            ).astype(np.int64),
            payload_length=cat("payload_length"),
            source_names=list(source_names),
            source_index=cat("source_index"),
            source_offset=cat("source_offset"),
        )

    def pieces(self, max_bytes: int) -> Iterator[AcceptedPackets]:
        """These packets in consecutive pieces of about ``max_bytes`` payload bytes (views, no copy)."""
        if max_bytes < 1:
            raise ValueError(f"parameter 'max_bytes': must be positive, got {max_bytes}")
        ends = np.cumsum(self.payload_length)
        cuts = np.searchsorted(
            ends, np.arange(max_bytes, int(ends[-1]) if ends.size else 0, max_bytes), "right"
        )
        bounds = [0, *sorted(set(cuts.tolist()) - {0, len(self)}), len(self)]
        for lo, hi in itertools.pairwise(bounds):
            yield self.select(slice(lo, hi))
        if len(self) == 0:
            yield self

    def select(self, mask: np.ndarray | slice) -> AcceptedPackets:
        """The packets where ``mask`` is true (payload buffer and source names shared)."""
        return AcceptedPackets(
            **{
                k: (getattr(self, k)[mask] if k not in ("payload", "source_names") else getattr(self, k))
                for k in self.__dataclass_fields__
            }
        )


#: Default byte budget of one piece of :func:`delivery_pieces` (its packets' file bytes).
PIECE_BYTES = 64 * 2**20
#: A window of a file stops taking packets this far before its end (twice the largest packet):
#: the packet walk is sequential, so every packet or bad span ending before that point is found
#: exactly as in a walk of the whole file, and the next window starts where it ended.
EDGE_MARGIN = 2 * MAX_PACKET_LENGTH


@dataclass(frozen=True)
class _ArchivedFile:
    """One archived file of a delivery as the ingest registered it."""

    name: str
    path: Path
    size: int
    sha256: str
    quarantined: tuple[tuple[int, int], ...]


@dataclass
class DeliveryPieces:
    """The packets the ingest accepted of one delivery, read piece by piece (:func:`delivery_pieces`).

    Iterating yields :class:`AcceptedPackets`, in arrival order, each holding the packets of at
    most ``max_bytes`` of file bytes (whole packets; a piece may end inside a file and the next
    one continue it; small files are read together; a file is read in windows of at least
    ``4 * EDGE_MARGIN`` bytes). Every piece names all the delivery's files in ``source_names``
    (``source_index`` is the same in every piece). Each file is read once (the few bytes at
    a window's edge twice) and hashed as it is read; its SHA-256 is compared with the
    registered one once its last byte is read, so :class:`ArchiveDamaged` can be raised after
    earlier pieces were yielded: a consumer commits nothing before the iteration ends.
    """

    delivery_id: str
    files: list[_ArchivedFile]
    max_bytes: int = PIECE_BYTES

    @property
    def source_names(self) -> list[str]:
        """``<delivery>/<file name>`` of every file, in manifest order."""
        return [f"{self.delivery_id}/{f.name}" for f in self.files]

    @property
    def n_bytes(self) -> int:
        """Bytes of the delivery's archived files."""
        return sum(f.size for f in self.files)

    def __iter__(self) -> Iterator[AcceptedPackets]:
        names = self.source_names
        window = max(int(self.max_bytes), 4 * EDGE_MARGIN)
        parts: list[AcceptedPackets] = []
        held = 0
        for i, f in enumerate(self.files):
            for part in self._file_parts(i, f, window, names):
                if parts and held + int(part.payload.size) > self.max_bytes:  # pieces stay within budget
                    yield AcceptedPackets.concatenate(parts, names)
                    parts, held = [], 0
                parts.append(part)
                held += int(part.payload.size)
        if parts or not self.files:
            yield AcceptedPackets.concatenate(parts, names)

    def _file_parts(
        self, i: int, f: _ArchivedFile, window: int, names: list[str]
    ) -> Iterator[AcceptedPackets]:
        """The accepted packets of file ``f``, window by window; its SHA-256 checked at its end."""
        digest = hashlib.sha256()
        try:
            fh = open(f.path, "rb", buffering=0)
        except OSError as exc:
            raise ArchiveDamaged(
                f"delivery {self.delivery_id}: archived file {f.path}: {exc.strerror}"
            ) from exc
        with fh:
            pos, hashed = 0, 0
            while True:
                want = min(window, f.size - pos)
                buf = np.empty(want, dtype=np.uint8)
                try:
                    fh.seek(pos)
                    got = _read_full(fh, buf)
                    extra = fh.read(1) if pos + got >= f.size else b""
                except OSError as exc:
                    raise ArchiveDamaged(
                        f"delivery {self.delivery_id}: archived file {f.path}: {exc.strerror}"
                    ) from exc
                buf = buf[:got]
                digest.update(memoryview(buf)[hashed - pos :])
                hashed = pos + got
                last = got < want or pos + got >= f.size
                if last:
                    if got < want or extra or digest.hexdigest() != f.sha256:
                        raise ArchiveDamaged(
                            f"delivery {self.delivery_id}: archived file {f.path} differs from its registered SHA-256"
                        )
                table = decode_buffer(buf, names[i], apids=None, max_packet_length=MAX_PACKET_LENGTH)
                end = table.offset + table.length
                if last:
                    take, advance = np.ones(len(table), dtype=bool), got
                else:
                    limit = got - EDGE_MARGIN
                    take = end <= limit
                    ends = np.concatenate([end[take], (table.bad_offset + table.bad_length)])
                    ends = ends[ends <= limit]
                    advance = int(ends.max()) if ends.size else limit  # none: inside a bad span
                keep = take.copy()
                file_off = table.offset + pos
                for off, ln in f.quarantined:
                    keep &= ~((file_off >= off) & (file_off < off + ln))
                yield AcceptedPackets(
                    apid=table.apid[keep],
                    seq_flags=table.seq_flags[keep],
                    seq_count=table.seq_count[keep],
                    sec=table.sec[keep],
                    usec=table.usec[keep],
                    payload=buf,
                    payload_offset=table.payload_offset[keep],
                    payload_length=table.payload_length[keep],
                    source_names=names,
                    source_index=np.full(int(keep.sum()), i, dtype=np.int64),
                    source_offset=file_off[keep],
                )
                if last:
                    return
                pos += advance


def _read_full(fh, out: np.ndarray) -> int:  # type: ignore[no-untyped-def]
    """Read into ``out`` until it is full or the file ends; the number of bytes read."""
    n, view = 0, memoryview(out)
    while n < out.size and (got := fh.readinto(view[n:])):
        n += got
    return n


def delivery_pieces(
    session: Session, site: Site, delivery_id: str, max_bytes: int = PIECE_BYTES
) -> DeliveryPieces:
    """The packets the ingest accepted of ``delivery_id``, to be read piece by piece (:class:`DeliveryPieces`).

    The database is read now (files, archive paths, SHA-256, quarantined spans); the files
    are read while iterating, so the session may be closed by then.

    Raises
    ------
    NotIngested
        The delivery is not registered.
    """
    dl = session.scalar(select(Delivery).where(Delivery.delivery_id == delivery_id))
    if dl is None:
        raise NotIngested(f"delivery {delivery_id}: not ingested (run 'fermi-ingest ingest' first)")
    rows = list(
        session.scalars(
            select(DeliveryFile).where(DeliveryFile.delivery_pk == dl.id).order_by(DeliveryFile.position)
        )
    )
    files = [
        _ArchivedFile(
            name=f.name,
            path=site.resolve(f.archive_path),
            size=int(f.size),
            sha256=f.sha256,
            quarantined=tuple(
                (int(o), int(n))
                for o, n in session.execute(
                    select(QuarantinedSpan.offset, QuarantinedSpan.length).where(
                        QuarantinedSpan.file_pk == f.id
                    )
                ).all()
            ),
        )
        for f in rows
    ]
    if max_bytes < 1:
        raise ValueError(f"parameter 'max_bytes': must be positive, got {max_bytes}")
    return DeliveryPieces(delivery_id, files, int(max_bytes))


def accepted_packets(session: Session, site: Site, delivery_id: str) -> AcceptedPackets:
    """Return the packets the ingest accepted of delivery ``delivery_id`` (module docstring), all at once.

    The delivery's bytes are held in memory; :func:`delivery_pieces` reads them piece by piece.

    Raises
    ------
    NotIngested
        The delivery is not registered.
    ArchiveDamaged
        An archived file is missing or unreadable, or its bytes differ from the SHA-256 the
        ingest registered (the message names the file).
    """
    pieces = delivery_pieces(session, site, delivery_id)
    pieces.max_bytes = max(pieces.n_bytes, 1)
    return AcceptedPackets.concatenate(list(pieces), pieces.source_names)
