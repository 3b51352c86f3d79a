"""The datagram store: datagrams and fragments kept on disk between deliveries, and their rows.

Every stored datagram is a row of ``halfpipe_datagram`` naming its store file (home-relative),
byte offset, length and SHA-256; every pending fragment (packets of a datagram cut by a
delivery boundary) a row of ``halfpipe_fragment`` naming its file. Files are under
:meth:`fermi_core.site.Site.halfpipe` and written atomically (:mod:`fermi_core.atomic`); nothing
is found by listing directories.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from fermi_core.atomic import atomic_output, atomic_write_bytes
from fermi_core.site import Site
from fermi_halfpipe import intervals as ivl
from fermi_halfpipe import models as M
from fermi_halfpipe.datagram import DecodedDatagrams, Fragment, decode_datagrams
from fermi_halfpipe.errors import HalfpipeError
from fermi_halfpipe.options import DEFAULT_PIECE_BYTES
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


def _read_ranges(fd: int, out: np.ndarray, offset: int, name: str) -> None:
    """Fill ``out`` from byte ``offset`` of the open file ``fd`` (``name`` in the message if it ends first)."""
    view, done = memoryview(out), 0
    while done < out.size:
        got = os.preadv(fd, [view[done:]], offset + done)
        if got <= 0:
            raise HalfpipeError(f"{name}: {offset + done}: file ends before the datagram bytes it must hold")
        done += got


def _runs(files: list[str], offsets: np.ndarray, lengths: np.ndarray) -> list[tuple[int, int]]:
    """Index ranges ``[i, j)`` of consecutive entries lying back to back in one file (one read each)."""
    out, i, n = [], 0, len(files)
    while i < n:
        j = i + 1
        while j < n and files[j] == files[i] and offsets[j] == offsets[j - 1] + lengths[j - 1]:
            j += 1
        out.append((i, j))
        i = j
    return out


class DatagramSpool:
    """The whole datagrams of a delivery being read piece by piece, kept in an anonymous file.

    The file lies in the halfpipe area (:attr:`fermi_core.site.Site.halfpipe`, the store's file
    system) and disappears when closed: nothing of it stays if the merge fails. Each piece's
    datagram bytes are appended (:meth:`append`); the store files are then written from it
    (:func:`store_datagrams`) in bounded batches.
    """

    def __init__(self, site: Site) -> None:
        site.halfpipe.mkdir(parents=True, exist_ok=True)
        self._fh = tempfile.TemporaryFile(dir=site.halfpipe)
        self.size = 0

    def append(self, data: np.ndarray) -> int:
        """Append ``data`` (uint8); return the offset it starts at."""
        base = self.size
        view, done = memoryview(np.ascontiguousarray(data, dtype=np.uint8)), 0
        while done < len(view):
            done += os.pwrite(self._fh.fileno(), view[done:], base + done)
        self.size += len(view)
        return base

    def read(self, offsets: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """The records at ``offsets``/``lengths``, back to back in the order given."""
        offsets = np.asarray(offsets, dtype=np.int64)
        lengths = np.asarray(lengths, dtype=np.int64)
        out = np.empty(int(lengths.sum()), dtype=np.uint8)
        at = np.cumsum(lengths) - lengths
        for i, j in _runs([""] * offsets.size, offsets, lengths):
            end = int(at[j - 1] + lengths[j - 1])
            _read_ranges(self._fh.fileno(), out[int(at[i]) : end], int(offsets[i]), "datagram spool")
        return out

    def close(self) -> None:
        """Close (and so delete) the spool file."""
        self._fh.close()

    def __enter__(self) -> DatagramSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def batches(lengths: np.ndarray, budget: int) -> list[tuple[int, int]]:
    """Consecutive index ranges ``[i, j)`` of about ``budget`` bytes each (at least one entry each)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.size == 0:
        return []
    ends = np.cumsum(lengths)
    cuts, i = [], 0
    while i < lengths.size:
        j = int(np.searchsorted(ends, (ends[i - 1] if i else 0) + budget, side="right"))
        j = max(j, i + 1)
        cuts.append((i, j))
        i = j
    return cuts


def store_datagrams(
    site: Site,
    delivery_id: str,
    run_id: int,
    apid: int,
    spool: DatagramSpool,
    offsets: np.ndarray,
    lengths: np.ndarray,
    budget: int = DEFAULT_PIECE_BYTES,
) -> tuple[str, np.ndarray]:
    """Write the spooled datagrams at ``offsets``/``lengths`` to the run's store file of this delivery.

    They are written back to back in the order given, ``budget`` bytes at a time, atomically.
    Returns (stored path, home-relative as recorded in ``halfpipe_datagram.store_path``, and the
    offset of each datagram in the file).
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    path = site.halfpipe_store(run_id) / f"{delivery_id}-{apid}.dgm"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp, open(tmp, "wb") as fh:
        for i, j in batches(lengths, budget):
            fh.write(memoryview(spool.read(offsets[i:j], lengths[i:j])))
    return site.relative(path), np.cumsum(lengths) - lengths


def _store_file(site: Site, row: M.HalfpipeDatagram) -> Path:
    p = site.resolve(row.store_path)
    if not p.is_file():
        raise HalfpipeError(
            f"run {row.run_id}: stored datagrams {p} are missing (datagram {row.seq} of APID {row.apid})"
        )
    return p


def pending_rows(session: Session, run_id: int) -> list[M.HalfpipeDatagram]:
    """The stored datagrams of the run that still have undelivered events (by APID, sequence)."""
    return list(
        session.scalars(
            select(M.HalfpipeDatagram)
            .where(M.HalfpipeDatagram.run_id == run_id, M.HalfpipeDatagram.done.is_(False))
            .order_by(M.HalfpipeDatagram.apid, M.HalfpipeDatagram.seq)
        )
    )


def rows_in_range(session: Session, run_id: int, lo: int, hi: int) -> list[M.HalfpipeDatagram]:
    """Every stored datagram of the run (delivered or not) with events in GEM ``[lo, hi]``."""
    return list(
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


def decode_stored(
    site: Site, pend: Sequence[M.HalfpipeDatagram], event_columns: bool = True
) -> DecodedDatagrams:
    """Decode the stored datagrams ``pend`` (rows of ``halfpipe_datagram``), in the order given.

    Only their bytes are read (one read per run of datagrams lying back to back in one store
    file); ``event_columns`` as in :func:`fermi_halfpipe.datagram.decode_datagrams`.
    """
    files = [r.store_path for r in pend]
    offs = np.array([r.store_offset for r in pend], dtype=np.int64)
    lens = np.array([r.length for r in pend], dtype=np.int64)
    buf = np.empty(int(lens.sum()), dtype=np.uint8)
    at = np.cumsum(lens) - lens
    fds: dict[str, int] = {}
    try:
        for i, j in _runs(files, offs, lens):
            if files[i] not in fds:
                fds[files[i]] = os.open(_store_file(site, pend[i]), os.O_RDONLY)
            end = int(at[j - 1] + lens[j - 1])
            _read_ranges(fds[files[i]], buf[int(at[i]) : end], int(offs[i]), files[i])
    finally:
        for fd in fds.values():
            os.close(fd)
    return decode_datagrams(
        buf,
        at,
        lens,
        np.array([r.apid for r in pend], dtype=np.int64),
        source=files,
        source_offset=offs,
        event_columns=event_columns,
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
