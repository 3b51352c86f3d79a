"""Read an ingested delivery's accepted packets from the archive, as registered by fermi-ingest.

The file list, archive paths, checksums and quarantined byte spans come from the database
(``fermi_ingest.models``); nothing is found by listing directories. Packets inside a quarantined
span (malformed, duplicate or out of order, as judged by the ingest) are left out.
"""

from __future__ import annotations

import hashlib

import numpy as np
from sqlalchemy import select

from fermi_halfpipe.stitch import DeliveryPackets, HalfpipeError, HalfpipeOptions, merge_packets
from fermi_ingest.ccsds.decode import decode_buffer
from fermi_ingest.db import session_scope
from fermi_ingest.models import Delivery, DeliveryFile, QuarantinedSpan


def load_delivery_packets(delivery_id: str, url: str | None = None) -> DeliveryPackets:
    """Return the accepted packets of an ingested delivery (files in manifest order).

    Raises
    ------
    HalfpipeError
        If the delivery is not ingested, or an archived file is missing or differs from its
        recorded SHA-256 (the message names the file).
    """
    with session_scope(url) as session:
        dl = session.scalar(select(Delivery).where(Delivery.delivery_id == delivery_id))
        if dl is None:
            raise HalfpipeError(f"delivery {delivery_id}: not ingested (run 'fermi-ingest ingest' first)")
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
    parts = []
    base = 0
    for i, f in enumerate(files):
        try:
            raw = open(f.archive_path, "rb").read()
        except OSError as exc:
            raise HalfpipeError(
                f"delivery {delivery_id}: archived file {f.archive_path}: {exc.strerror}"
            ) from exc
        if hashlib.sha256(raw).hexdigest() != f.sha256:
            raise HalfpipeError(
                f"delivery {delivery_id}: archived file {f.archive_path} differs from its SHA-256"
            )
        table = decode_buffer(raw, f"{delivery_id}/{f.name}", apids=None, max_packet_length=65542)
        keep = np.ones(len(table), dtype=bool)
        for off, ln in quarantined[f.id]:
            keep &= ~((table.offset >= off) & (table.offset < off + ln))
        parts.append((i, table, keep, base))
        base += table.size
    cat = {k: [] for k in ("apid", "seq_flags", "seq_count", "sec", "usec", "poff", "plen", "sidx", "soff")}
    for i, t, keep, b in parts:
        cat["apid"].append(t.apid[keep])
        cat["seq_flags"].append(t.seq_flags[keep])
        cat["seq_count"].append(t.seq_count[keep])
        cat["sec"].append(t.sec[keep])
        cat["usec"].append(t.usec[keep])
        cat["poff"].append(t.payload_offset[keep] + b)
        cat["plen"].append(t.payload_length[keep])
        cat["sidx"].append(np.full(int(keep.sum()), i, dtype=np.int64))
        cat["soff"].append(t.offset[keep])
    if not parts:
        empty = np.empty(0, np.int64)
        return DeliveryPackets(
            empty, empty, empty, empty, empty, np.empty(0, np.uint8), empty, empty, [], empty, empty
        )
    col = {k: np.concatenate(v).astype(np.int64) for k, v in cat.items()}
    return DeliveryPackets(
        apid=col["apid"],
        seq_flags=col["seq_flags"],
        seq_count=col["seq_count"],
        sec=col["sec"],
        usec=col["usec"],
        payload=np.concatenate([t.buffer for _, t, _, _ in parts]),
        payload_offset=col["poff"],
        payload_length=col["plen"],
        source_names=[f"{delivery_id}/{f.name}" for f in files],
        source_index=col["sidx"],
        source_offset=col["soff"],
    )


def merge_delivery(delivery_id: str, options: HalfpipeOptions | None = None, url: str | None = None) -> dict:
    """Merge an ingested delivery (see :func:`fermi_halfpipe.stitch.merge_packets`)."""
    return merge_packets(delivery_id, load_delivery_packets(delivery_id, url), options, url)
