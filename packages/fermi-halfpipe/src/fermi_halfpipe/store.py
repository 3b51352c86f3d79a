"""The datagram store: datagrams and fragments kept on disk between deliveries, and their rows.

Every stored datagram is a row of ``halfpipe_datagram`` naming its store file (home-relative),
byte offset, length and SHA-256; every pending fragment (packets of a datagram cut by a
delivery boundary) a row of ``halfpipe_fragment`` naming its file. Files are under
:meth:`fermi_core.site.Site.halfpipe` and written atomically (:mod:`fermi_core.atomic`); nothing
is found by listing directories.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from fermi_core.atomic import atomic_write_bytes
from fermi_core.site import Site
from fermi_halfpipe import intervals as ivl
from fermi_halfpipe import models as M
from fermi_halfpipe.datagram import DecodedDatagrams, Fragment, decode_datagrams, gather_records
from fermi_halfpipe.errors import HalfpipeError
from fermi_halfpipe.rules import DatagramRows

#: Columns of :func:`run_rows`.
ROW_NAMES = ("id", "apid", "seq", "open_action", "close_action", "first_gem", "last_gem", "met", "sha256",
             "done", "n_events", "n_decoded")  # fmt: skip


def run_rows(session: Session, run_id: int) -> DatagramRows:
    """The stored datagrams of a run as columns (:data:`fermi_halfpipe.rules.DatagramRows`)."""
    rows = session.execute(
        select(*(getattr(M.HalfpipeDatagram, n) for n in ROW_NAMES))
        .where(M.HalfpipeDatagram.run_id == run_id)
        .order_by(M.HalfpipeDatagram.apid, M.HalfpipeDatagram.seq)
    ).all()
    if not rows:
        return {n: np.empty(0, dtype=object if n == "sha256" else np.int64) for n in ROW_NAMES}
    cols = list(zip(*rows, strict=True))
    return {
        n: np.array(c, dtype=object if n == "sha256" else (np.float64 if n == "met" else np.int64))
        for n, c in zip(ROW_NAMES, cols, strict=True)
    }


def delivered_spans(session: Session, run_id: int) -> ivl.Intervals:
    """The GEM spans of a run delivered so far, sorted."""
    return [
        (int(lo), int(hi))
        for lo, hi in session.execute(
            select(M.HalfpipeSpan.lo, M.HalfpipeSpan.hi)
            .where(M.HalfpipeSpan.run_id == run_id)
            .order_by(M.HalfpipeSpan.lo)
        ).all()
    ]


#: Store files held in memory, by stored path: (buffer, {store offset: offset in buffer}).
Resident = Mapping[str, tuple[np.ndarray, dict[int, int]]]


def store_datagrams(
    site: Site, delivery_id: str, run_id: int, apid: int, dec: DecodedDatagrams, idx: np.ndarray
) -> tuple[str, np.ndarray]:
    """Write datagrams ``idx`` to the run's store file of this delivery; return (stored path, offsets).

    The stored path is home-relative (as recorded in ``halfpipe_datagram.store_path``).
    """
    dg = dec.datagrams
    data, offsets = gather_records(dec.buffer, dg["offset"][idx], dg["length"][idx])
    path = site.halfpipe_store(run_id) / f"{delivery_id}-{apid}.dgm"
    atomic_write_bytes(path, memoryview(data))
    return site.relative(path), offsets


def resident_store(
    dec: DecodedDatagrams, idx: np.ndarray, store_offsets: np.ndarray
) -> tuple[np.ndarray, dict[int, int]]:
    """Where the datagrams ``idx`` just stored at ``store_offsets`` still lie in ``dec.buffer``.

    An entry of :data:`Resident`: :func:`decode_stored` takes those datagrams from memory
    instead of reading back the store file just written.
    """
    where = dict(zip(np.asarray(store_offsets).tolist(), dec.datagrams["offset"][idx].tolist(), strict=True))
    return dec.buffer, where


def _store_file(site: Site, row: M.HalfpipeDatagram) -> Path:
    p = site.resolve(row.store_path)
    if not p.is_file():
        raise HalfpipeError(
            f"run {row.run_id}: stored datagrams {p} are missing (datagram {row.seq} of APID {row.apid})"
        )
    return p


def load_pending(
    session: Session, site: Site, run_id: int, resident: Resident | None = None
) -> tuple[DecodedDatagrams, list[M.HalfpipeDatagram]]:
    """Decode the stored datagrams of the run that still have undelivered events (by APID, sequence).

    ``resident``: store files whose datagrams are still in memory (see :func:`decode_stored`).
    """
    pend = list(
        session.scalars(
            select(M.HalfpipeDatagram)
            .where(M.HalfpipeDatagram.run_id == run_id, M.HalfpipeDatagram.done.is_(False))
            .order_by(M.HalfpipeDatagram.apid, M.HalfpipeDatagram.seq)
        )
    )
    return decode_stored(site, pend, resident), pend


def load_in_range(
    session: Session, site: Site, run_id: int, lo: int, hi: int
) -> tuple[DecodedDatagrams, list[M.HalfpipeDatagram]]:
    """Decode every stored datagram of the run (delivered or not) with events in GEM ``[lo, hi]``."""
    rows = list(
        session.scalars(
            select(M.HalfpipeDatagram)
            .where(
                M.HalfpipeDatagram.run_id == run_id,
                M.HalfpipeDatagram.first_gem >= 0,
                M.HalfpipeDatagram.first_gem <= hi,
                M.HalfpipeDatagram.last_gem >= lo,
            )
            .order_by(M.HalfpipeDatagram.apid, M.HalfpipeDatagram.seq)
        )
    )
    return decode_stored(site, rows), rows


def decode_stored(
    site: Site, pend: list[M.HalfpipeDatagram], resident: Resident | None = None
) -> DecodedDatagrams:
    """Decode the stored datagrams ``pend`` (rows of ``halfpipe_datagram``), in the order given.

    The datagrams of store files named in ``resident`` (:data:`Resident`, the files this process
    has just written) are taken from memory; every other store file is read from disk.
    """
    parts, cache = [], {}
    resident = resident or {}
    for r in pend:
        if r.store_path in resident:
            buf, where = resident[r.store_path]
            at = where[int(r.store_offset)]
            parts.append(buf[at : at + r.length])
            continue
        if r.store_path not in cache:
            cache[r.store_path] = np.fromfile(_store_file(site, r), dtype=np.uint8)
        parts.append(cache[r.store_path][r.store_offset : r.store_offset + r.length])
    lens = np.array([r.length for r in pend], dtype=np.int64)
    buf = np.concatenate(parts) if parts else np.empty(0, np.uint8)
    return decode_datagrams(
        buf,
        np.cumsum(lens) - lens,
        lens,
        np.array([r.apid for r in pend], dtype=np.int64),
        source=[r.store_path for r in pend],
        source_offset=np.array([r.store_offset for r in pend], dtype=np.int64),
    )


def stored_gem_values(session: Session, site: Site, row_id: int) -> np.ndarray:
    """GEM numbers of the events of one stored datagram (decoded from the store)."""
    r = session.get(M.HalfpipeDatagram, row_id)
    with _store_file(site, r).open("rb") as fh:
        fh.seek(r.store_offset)
        data = np.frombuffer(fh.read(r.length), np.uint8)
    dec = decode_datagrams(data, np.zeros(1, np.int64), np.array([r.length], np.int64), np.array([r.apid]))
    return dec.events["gem_seq"].astype(np.int64)


def pending_fragments(
    session: Session, site: Site, delivery_id: str
) -> tuple[list[M.HalfpipeFragment], list[Fragment]]:
    """Pending fragments of the *other* deliveries: their rows and their contents, in row order."""
    rows = list(
        session.scalars(
            select(M.HalfpipeFragment)
            .where(M.HalfpipeFragment.state == "pending", M.HalfpipeFragment.delivery_id != delivery_id)
            .order_by(M.HalfpipeFragment.id)
        )
    )
    frags = [
        Fragment(
            row.apid,
            row.first_count,
            row.last_count,
            row.first_flag,
            row.last_flag,
            row.sec,
            row.usec,
            site.resolve(row.path).read_bytes(),
            row.source,
            row.source_offset,
        )
        for row in rows
    ]
    return rows, frags


def keep_fragment(session: Session, site: Site, delivery_id: str, fr: Fragment) -> None:
    """Store a fragment of this delivery until the rest of its datagram arrives."""
    path = site.halfpipe_fragments(delivery_id) / f"{fr.apid}-{fr.sec}-{fr.first_count:05d}.bin"
    atomic_write_bytes(path, fr.data)
    session.add(
        M.HalfpipeFragment(
            delivery_id=delivery_id,
            apid=fr.apid,
            first_count=fr.first_count,
            last_count=fr.last_count,
            first_flag=fr.first_flag,
            last_flag=fr.last_flag,
            sec=fr.sec,
            usec=fr.usec,
            source=fr.source,
            source_offset=fr.offset,
            path=site.relative(path),
            state="pending",
        )
    )
