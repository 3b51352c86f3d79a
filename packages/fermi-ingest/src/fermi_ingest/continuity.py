"""A new delivery's packets against what was ingested before: duplicates, late data, gaps.

Per APID (:func:`stream_status`):

1. a packet already received (same time and sequence count) in an earlier delivery, or earlier in
   this one, is a duplicate;
2. the other packets are taken in time order (arrival order inside one time: the packets of one
   datagram share their time) and cut into **segments**: the packets lying inside an open
   sequence gap of earlier deliveries are *late data* for that gap (one segment per gap: the gap
   is marked filled by this delivery and what it still misses is recorded as new gaps); the runs
   of packets in between are compared with their neighbours on both sides in time (the span of
   an earlier delivery that ends last before them and the one that starts first after them), so
   deliveries may arrive in any order, and late packets may sit anywhere in a delivery's files;
3. a packet inside the time span of packets received before, with no open gap there, cannot be
   placed in the stream: it is out of order (set aside).

Datagram gaps (``docs/formats/telemetry.md`` §4.2) are the jumps of the 20-bit datagram sequence
per run per event APID within one segment (:func:`datagram_gaps`); a delivery bringing datagrams
missing from an open datagram gap of an earlier delivery marks it filled
(:func:`fill_datagram_gaps`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from fermi_core.site import Site
from fermi_ingest import gaps
from fermi_ingest.ccsds.decode import decode_file
from fermi_ingest.models import ApidSpan, Delivery, DeliveryFile, Gap

#: the datagram sequence counter (``mcd``) is 20 bits
DATAGRAM_SEQ_MODULUS = 1 << 20


@dataclass
class StreamResult:
    """What :func:`stream_status` found for the packets of one APID (in the order given).

    ``status`` is ``gaps.ACCEPTED``, ``DUPLICATE`` or ``OUT_OF_ORDER`` per packet; ``segment`` the
    segment of each accepted packet (−1 for the others): segments of one APID never interleave in
    time, and ``filled_segments`` are those that filled an older gap.
    """

    status: np.ndarray
    segment: np.ndarray
    gap_rows: list[Gap] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    filled: int = 0
    filled_segments: set[int] = field(default_factory=set)


def prior_keys(
    session: Session,
    site: Site,
    delivery: Delivery,
    apid: int,
    t0: float,
    t1: float,
    apids: tuple[int, ...],
    max_packet_length: int,
) -> np.ndarray:
    """(time in µs, sequence count) of the packets of ``apid`` in earlier deliveries overlapping [t0, t1]."""
    rows = session.execute(
        select(DeliveryFile.archive_path, DeliveryFile.name, Delivery.delivery_id)
        .join(ApidSpan, ApidSpan.file_pk == DeliveryFile.id)
        .join(Delivery, Delivery.id == ApidSpan.delivery_pk)
        .where(ApidSpan.apid == apid, ApidSpan.delivery_pk != delivery.id)
        .where(ApidSpan.met_stop >= t0, ApidSpan.met_start <= t1)
        .distinct()
    ).all()
    keys = [np.empty((0, 2), dtype=np.int64)]
    for archive_path, name, dl in rows:
        t = decode_file(site.resolve(archive_path), apids, max_packet_length, name=f"{dl}/{name}")
        sel = t.apid == apid
        keys.append(np.stack([t.sec[sel] * 1_000_000 + t.usec[sel], t.seq_count[sel]], axis=1))
    return np.concatenate(keys)


def _duplicates(mine: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Mask of the rows of ``mine`` (time µs, count) seen in ``prior`` or earlier in ``mine``."""
    dup = np.zeros(mine.shape[0], dtype=bool)
    if prior.size:
        _, inverse = np.unique(np.concatenate([prior, mine]), axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        dup = np.isin(inverse[len(prior) :], inverse[: len(prior)])
    _, first = np.unique(mine, axis=0, return_index=True)
    again = np.ones(mine.shape[0], dtype=bool)
    again[first] = False
    return dup | again


def _neighbours(
    session: Session, delivery: Delivery, apid: int, t_first: float, t_last: float
) -> tuple[tuple[int, float] | None, tuple[int, float] | None, int, int]:
    """(seq, time) of the packets of earlier deliveries just before ``t_first`` and just after
    ``t_last``, and the deliveries holding them (this delivery's id when there is none)."""
    previous = following = None
    before_pk = after_pk = delivery.id
    last = session.execute(
        select(ApidSpan.last_seq, ApidSpan.met_stop, ApidSpan.delivery_pk)
        .where(ApidSpan.apid == apid, ApidSpan.delivery_pk != delivery.id, ApidSpan.met_stop <= t_first)
        .order_by(ApidSpan.met_stop.desc(), ApidSpan.id.desc())
        .limit(1)
    ).first()
    if last is not None:
        previous = (last.last_seq, last.met_stop)
        before_pk = last.delivery_pk
    nxt = session.execute(
        select(ApidSpan.first_seq, ApidSpan.met_start, ApidSpan.delivery_pk)
        .where(ApidSpan.apid == apid, ApidSpan.delivery_pk != delivery.id, ApidSpan.met_start >= t_last)
        .order_by(ApidSpan.met_start, ApidSpan.id)
        .limit(1)
    ).first()
    if nxt is not None:
        following = (nxt.first_seq, nxt.met_start)
        after_pk = nxt.delivery_pk
    return previous, following, before_pk, after_pk


def stream_status(
    session: Session,
    site: Site,
    delivery: Delivery,
    apid: int,
    seq: np.ndarray,
    sec: np.ndarray,
    usec: np.ndarray,
    *,
    apids: tuple[int, ...],
    max_packet_length: int,
    max_time_step: float,
) -> StreamResult:
    """Classify the packets of one APID of ``delivery`` (arrival order) and find their gaps.

    Parameters
    ----------
    session, site, delivery
        The open transaction, the data home (to read earlier deliveries' archived files) and the
        delivery being ingested (flushed: it has an id).
    apid, seq, sec, usec
        The APID and its packets' sequence counts and times (MET s and µs), in arrival order.
    apids, max_packet_length
        What the decoder accepts (to read earlier deliveries the way they were ingested).
    max_time_step
        A step of more than this many seconds between accepted packets is a time gap.

    Returns
    -------
    StreamResult
        Per-packet status and segment; the new gaps (``Gap`` rows, not added to the session) and
        their one-line descriptions. Older gaps filled are marked so in the session.
    """
    seq = np.asarray(seq, dtype=np.int64)
    sec = np.asarray(sec, dtype=np.int64)
    usec = np.asarray(usec, dtype=np.int64)
    t = sec + usec * 1e-6
    n = seq.size
    res = StreamResult(np.zeros(n, dtype=np.int8), np.full(n, -1, dtype=np.int64))
    if n == 0:
        return res
    prior = prior_keys(
        session, site, delivery, apid, float(t.min()), float(t.max()), apids, max_packet_length
    )
    res.status[_duplicates(np.stack([sec * 1_000_000 + usec, seq], axis=1), prior)] = gaps.DUPLICATE
    live = np.flatnonzero(res.status == gaps.ACCEPTED)
    if live.size == 0:
        return res
    order = live[np.argsort(t[live], kind="stable")]
    to = t[order]
    open_gaps = session.scalars(
        select(Gap)
        .where(Gap.apid == apid, Gap.status == "open", Gap.kind == "sequence")
        .where(Gap.met_after >= float(to[0]), Gap.met_before <= float(to[-1]))
        .order_by(Gap.met_before, Gap.id)
    ).all()
    in_gap = np.full(order.size, -1, dtype=np.int64)
    for j, g in enumerate(open_gaps):
        in_gap[(in_gap < 0) & (to >= g.met_before) & (to <= g.met_after)] = j
    free = in_gap < 0
    if free.any():  # inside data already received, and no gap there: cannot be placed
        lo, hi = float(to[free].min()), float(to[free].max())
        covered = session.execute(
            select(ApidSpan.met_start, ApidSpan.met_stop).where(
                ApidSpan.apid == apid,
                ApidSpan.delivery_pk != delivery.id,
                ApidSpan.met_start < hi,
                ApidSpan.met_stop > lo,
            )
        ).all()
        inside = np.zeros(order.size, dtype=bool)
        for a, b in covered:
            inside |= free & (to > a) & (to < b)
        res.status[order[inside]] = gaps.OUT_OF_ORDER
        order, to, in_gap = order[~inside], to[~inside], in_gap[~inside]
        free = in_gap < 0
    label = in_gap.copy()
    run_start = free & ~np.concatenate([[False], free[:-1]])
    label[free] = len(open_gaps) + np.cumsum(run_start)[free] - 1
    for lab in np.unique(label):
        sel = order[label == lab]
        if lab < len(open_gaps):
            g = open_gaps[lab]
            previous, following = (g.seq_before, g.met_before), (g.seq_after, g.met_after)
            before_pk, after_pk = g.delivery_before_pk, g.delivery_after_pk
            g.status, g.filled_by_pk = "filled", delivery.id
            res.filled += 1
            res.filled_segments.add(int(lab))
        else:
            previous, following, before_pk, after_pk = _neighbours(
                session, delivery, apid, float(t[sel[0]]), float(t[sel[-1]])
            )
        report = gaps.analyse_stream(seq[sel], t[sel], previous, following, max_time_step)
        res.status[sel] = report.status
        res.segment[sel] = lab
        for g in report.gaps:
            res.gap_rows.append(
                Gap(
                    apid=apid,
                    kind=g.kind,
                    missing=g.missing,
                    seq_before=g.seq_before,
                    seq_after=g.seq_after,
                    met_before=g.met_before,
                    met_after=g.met_after,
                    delivery_before_pk=before_pk if g.before < 0 else delivery.id,
                    delivery_after_pk=after_pk if g.after >= sel.size else delivery.id,
                    found_by_pk=delivery.id,
                    status="open",
                )
            )
            res.lines.append(
                f"APID {apid}: {g.kind} gap, {g.missing} packets missing, seq {g.seq_before}->{g.seq_after}, "
                f"MET {g.met_before:.6f}-{g.met_after:.6f}"
            )
    res.segment[res.status != gaps.ACCEPTED] = -1
    return res


@dataclass
class DatagramStarts:
    """The first packets of the event datagrams of a delivery (accepted packets only).

    ``index`` points into the delivery's accepted packets; ``segment`` is the packet's segment
    (of :func:`stream_status`, per APID).
    """

    index: np.ndarray
    apid: np.ndarray
    run: np.ndarray
    dseq: np.ndarray
    time: np.ndarray
    segment: np.ndarray


def datagram_starts(
    apid: np.ndarray,
    seq_flags: np.ndarray,
    run_word: np.ndarray,
    mcd: np.ndarray,
    time: np.ndarray,
    segment: np.ndarray,
    event_apids: tuple[int, ...],
) -> DatagramStarts:
    """The datagram-opening packets (sequence flags first or unsegmented) of the event APIDs."""
    idx = np.flatnonzero(
        np.isin(seq_flags, (1, 3)) & np.isin(apid, event_apids) & (mcd >= 0) & (run_word >= 0)
    )
    return DatagramStarts(
        idx, apid[idx], run_word[idx], mcd[idx] & (DATAGRAM_SEQ_MODULUS - 1), time[idx], segment[idx]
    )


def datagram_gaps(starts: DatagramStarts) -> list[tuple[int, int, gaps.GapRecord]]:
    """Jumps of the datagram sequence per run, APID and segment, in time order.

    Returns ``(apid, run, gap)`` triples; the gap's ``before``/``after`` index the accepted packets.
    """
    out: list[tuple[int, int, gaps.GapRecord]] = []
    keys = sorted(
        {(int(a), int(r), int(s)) for a, r, s in zip(starts.apid, starts.run, starts.segment, strict=True)}
    )
    for apid, run, seg in keys:
        sel = np.flatnonzero((starts.apid == apid) & (starts.run == run) & (starts.segment == seg))
        sel = sel[np.argsort(starts.time[sel], kind="stable")]
        dseq = starts.dseq[sel]
        step = np.diff(dseq) % DATAGRAM_SEQ_MODULUS
        for j in np.flatnonzero(step != 1):
            a, b = sel[j], sel[j + 1]
            out.append(
                (
                    apid,
                    run,
                    gaps.GapRecord(
                        kind="datagram",
                        before=int(starts.index[a]),
                        after=int(starts.index[b]),
                        missing=int(step[j]) - 1 if 1 < step[j] <= DATAGRAM_SEQ_MODULUS // 2 else 0,
                        seq_before=int(dseq[j]),
                        seq_after=int(dseq[j + 1]),
                        met_before=float(starts.time[a]),
                        met_after=float(starts.time[b]),
                    ),
                )
            )
    return out


def fill_datagram_gaps(session: Session, delivery: Delivery, starts: DatagramStarts) -> tuple[int, list[Gap]]:
    """Mark filled the open datagram gaps of earlier deliveries that ``starts`` bring datagrams of.

    A gap is filled by a delivery that brings at least one of its missing datagrams (by APID,
    time between the gap's ends and datagram sequence inside it). What it still misses at its
    ends (before the first datagram brought, after the last) is returned as new gap rows (not
    added to the session); holes between the datagrams brought are found by
    :func:`datagram_gaps` within their segment. Returns (gaps filled, new rows).
    """
    if starts.index.size == 0:
        return 0, []
    filled = 0
    rows: list[Gap] = []
    for apid in np.unique(starts.apid):
        mine = np.flatnonzero(starts.apid == apid)
        t = starts.time[mine]
        candidates = session.scalars(
            select(Gap)
            .where(Gap.apid == int(apid), Gap.status == "open", Gap.kind == "datagram", Gap.missing > 0)
            .where(Gap.met_after >= float(t.min()), Gap.met_before <= float(t.max()))
            .where(Gap.found_by_pk != delivery.id)
            .order_by(Gap.met_before, Gap.id)
        ).all()
        for g in candidates:
            off = (starts.dseq[mine] - g.seq_before) % DATAGRAM_SEQ_MODULUS
            hit = (t >= g.met_before) & (t <= g.met_after) & (off >= 1) & (off <= g.missing)
            if not hit.any():
                continue
            g.status, g.filled_by_pk = "filled", delivery.id
            filled += 1
            brought = mine[hit][np.argsort(off[hit], kind="stable")]
            offs = np.sort(off[hit])
            edges = [(0, int(offs[0]), None, brought[0]), (int(offs[-1]), g.missing + 1, brought[-1], None)]
            for a, b, before, after in edges:
                if b - a <= 1:
                    continue
                rows.append(
                    Gap(
                        apid=int(apid),
                        kind="datagram",
                        missing=b - a - 1,
                        seq_before=(g.seq_before + a) % DATAGRAM_SEQ_MODULUS,
                        seq_after=(g.seq_before + b) % DATAGRAM_SEQ_MODULUS,
                        met_before=g.met_before if before is None else float(starts.time[before]),
                        met_after=g.met_after if after is None else float(starts.time[after]),
                        delivery_before_pk=g.delivery_before_pk if before is None else delivery.id,
                        delivery_after_pk=g.delivery_after_pk if after is None else delivery.id,
                        found_by_pk=delivery.id,
                        status="open",
                    )
                )
    return filled, rows
