"""Runs stitched across deliveries: datagram bookkeeping, the EPU rule, safe merge spans, retirement.

How a delivery is merged (one database transaction; outputs are written under their final
names before the commit and are byte-identical when the merge is re-run):

1. The delivery's event packets are reassembled into datagrams; pieces cut by a delivery
   boundary are joined with pending fragments of other deliveries or kept as fragments.
2. Datagrams are decoded (numba); malformed ones are recorded as problems with source, offset,
   reason and events lost. Each run is locked (see :func:`_lock`), then:
3. **EPU rule**: datagrams on an APID outside the configured EPU set, or whose crate does not
   match its APID, reject the run with the reason recorded (nothing merged, nothing deleted).
4. Datagram sequence numbers are unrolled (20 bits) against the run's stored datagrams;
   repeats are counted as duplicates (first copy kept; a copy with different bytes is a problem).
5. **Coverage**: per expected EPU, each contiguous datagram segment covers the GEM range of its
   events, extended to the run start when it opens with datagram 0 and action start, and to the
   run end when it closes with stop, abort or pause. Events are mergeable where the coverages of
   *both* expected EPUs overlap: nothing of either EPU can still arrive there.
6. New spans = mergeable − already delivered spans. Their events are merged by GEM sequence and
   written as Arrow files (one per span, split at ``max_events``); the spans are recorded so they
   are never delivered again. Everything else is held back (recorded with its location) and
   merged by a later delivery. Events of a new datagram inside an already delivered span are
   reported as late, never merged twice.
7. A run is retired when, for every expected EPU, its datagrams form one contiguous segment from
   datagram 0 (open action start) to a close action stop, abort or pause — or when an operator
   force-completes it with a reason (:func:`force_complete`).

The delivery summary and :func:`run_status` report per run, besides the counters, the events
held by the datagrams still missing, counted from the GEM sequence (:mod:`fermi_halfpipe.losses`:
exact, an estimate with an on-board filter, or a lower bound when a run end is missing).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from fermi_halfpipe import intervals as ivl
from fermi_halfpipe import models as M
from fermi_halfpipe.datagram import (
    DecodedDatagrams,
    Fragment,
    decode_datagrams,
    join_fragments,
    reassemble,
)
from fermi_halfpipe.format import (
    DATAGRAM_SEQ_BITS,
    DEFAULT_EPU_APIDS,
    OPEN_START,
    RUN_END_ACTIONS,
    SPACECRAFT_APID,
)
from fermi_halfpipe.losses import LossEstimate, estimate_losses
from fermi_halfpipe.merge import merge_streams, nearest_unroll, unroll_counter
from fermi_halfpipe.outputs import encode_merged, merged_file_name, write_merged
from fermi_halfpipe.spacecraft import decode_records, write_samples
from fermi_ingest import config
from fermi_ingest.archive import write_atomic
from fermi_ingest.db import session_scope

#: Decoder codes after which the datagram header cannot be trusted (run unknown).
_HEADER_UNUSABLE = (1, 2, 3, 4)
SUMMARY_FORMAT = "fermi-halfpipe-delivery-summary"


class HalfpipeError(Exception):
    """An error a user can act on (names the delivery, run or file at fault)."""


class MergeSummary(dict):
    """The delivery summary (a ``dict``, equal to the one on disk) returned by :func:`merge_packets`.

    Attributes
    ----------
    already_merged
        True when the delivery had been merged before (by this or another process) and nothing
        was done but checking its outputs.
    """

    already_merged: bool = False


@dataclass
class HalfpipeOptions:
    """Tunable parameters of the halfpipe.

    Attributes
    ----------
    epu_apids
        The expected EPU set: APID -> crate number (default 956 -> EPU0, 957 -> EPU1). A run
        must have its event datagrams from exactly these EPUs.
    spacecraft_apid
        APID of the attitude/orbit records.
    max_events
        Largest number of events in one merged file.
    fragment_max_seconds
        Largest packet-time distance between two pieces of one datagram.
    """

    epu_apids: dict[int, int] = field(default_factory=lambda: dict(DEFAULT_EPU_APIDS))
    spacecraft_apid: int = SPACECRAFT_APID
    max_events: int = 1_000_000
    fragment_max_seconds: float = 600.0

    def __post_init__(self) -> None:
        if len(self.epu_apids) != 2:
            raise ValueError(f"parameter 'epu_apids': exactly two EPUs required, got {self.epu_apids}")
        if self.max_events < 1:
            raise ValueError(f"parameter 'max_events': must be positive, got {self.max_events}")


@dataclass
class DeliveryPackets:
    """The accepted packets of one delivery as columns, in arrival order.

    ``payload_offset``/``payload_length`` locate each payload in ``payload``; ``source_index``
    and ``source_offset`` say which file (``source_names``) and byte offset it came from.
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

    @classmethod
    def from_columns(cls, cols, name: str = "<memory>") -> DeliveryPackets:
        """From :class:`fermi_ingest.ccsds.PacketColumns` (offsets are those of the encoded file)."""
        plen = np.asarray(cols.payload_length, dtype=np.int64)
        start = np.cumsum(plen) - plen
        file_off = start + 14 * np.arange(1, plen.size + 1) - 14
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

    def select(self, mask: np.ndarray) -> DeliveryPackets:
        """The packets where ``mask`` is true (payload buffer shared)."""
        return DeliveryPackets(
            **{
                k: (getattr(self, k)[mask] if k not in ("payload", "source_names") else getattr(self, k))
                for k in self.__dataclass_fields__
            }
        )


def halfpipe_dir() -> Path:
    """Private working area of the halfpipe: datagram store, fragments, summaries."""
    return config.fermi_home() / "halfpipe"


def runs_dir() -> Path:
    """Where merged event files go: ``$FERMI_HOME/runs/<run id>/``."""
    return config.fermi_home() / "runs"


def _rel(path: Path) -> str:
    return os.path.relpath(path, config.fermi_home())


def _abs(rel: str) -> Path:
    return config.fermi_home() / rel


# ------------------------------------------------------------------------------------------------
# locking
# ------------------------------------------------------------------------------------------------


#: First key of the PostgreSQL advisory locks on a delivery id (second key: ``hashtext(delivery id)``).
_DELIVERY_LOCK_KEY = 5115006


def _lock_database(session: Session, owner: str) -> None:
    """Take the merge lock of ``owner`` (a delivery id, or a force-complete label) before any read.

    PostgreSQL: a transaction-scoped advisory lock keyed on the delivery id, so a second process
    merging the same delivery waits until the first commits, then finds it merged (instead of
    merging it again and failing on the unique delivery id). Different deliveries do not wait for
    each other here (two ids may share a hash: they then merely wait). SQLite: the first write
    serialises every merger.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:key, hashtext(:delivery_id))"),
            {"key": _DELIVERY_LOCK_KEY, "delivery_id": owner},
        )
    elif dialect == "sqlite":
        # A write as the first statement makes SQLite take its RESERVED lock now, so a second
        # merger waits here (busy timeout) instead of failing later on a stale snapshot.
        res = session.execute(
            update(M.HalfpipeLock).where(M.HalfpipeLock.name == "merge").values(owner=owner)
        )
        if res.rowcount == 0:
            session.add(M.HalfpipeLock(name="merge", owner=owner))
            session.flush()


def _lock(session: Session, run_id: int, owner: str) -> M.HalfpipeRun:
    """Return the run's row, locked for this transaction (created if new).

    PostgreSQL: a transaction-scoped advisory lock on the run id (covers the insert of a new run)
    and ``SELECT … FOR UPDATE`` of its row; SQLite: already serialised by :func:`_lock_database`.
    Either way two mergers never work on the same run at once, and a run is never retired by
    one delivery while another is merging it.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(5115005, :k)"), {"k": int(run_id % (1 << 31))})
    row = session.scalar(select(M.HalfpipeRun).where(M.HalfpipeRun.run_id == run_id).with_for_update())
    if row is None:
        row = M.HalfpipeRun(run_id=run_id, status=M.OPEN, reason="")
        session.add(row)
        session.flush()
    row.lock_owner = owner
    return row


# ------------------------------------------------------------------------------------------------
# merge of one delivery
# ------------------------------------------------------------------------------------------------


def merge_packets(
    delivery_id: str,
    packets: DeliveryPackets,
    options: HalfpipeOptions | None = None,
    url: str | None = None,
) -> MergeSummary:
    """Merge the packets of delivery ``delivery_id``; return the delivery summary (also on disk).

    Re-running a delivery that was merged already changes nothing and returns its summary (after
    checking every output file against its recorded SHA-256), with ``already_merged`` set. Two
    processes merging the same delivery at once are serialised by :func:`_lock_database`: the
    second waits, then finds it merged.
    """
    options = options or HalfpipeOptions()
    import fermi_halfpipe.models  # noqa: F401  (registers the tables)

    with session_scope(url) as session:
        _lock_database(session, delivery_id)
        known = session.scalar(
            select(M.HalfpipeDelivery).where(M.HalfpipeDelivery.delivery_id == delivery_id)
        )
        if known is not None and known.state == "done":
            done = MergeSummary(_verify_done(session, known))
            done.already_merged = True
            return done
        summary = MergeSummary(_merge(session, delivery_id, packets, options))
        path = halfpipe_dir() / "deliveries" / f"{delivery_id}.json"
        data = (json.dumps(summary, indent=1, sort_keys=True) + "\n").encode()
        write_atomic(path, data)
        if known is None:
            known = M.HalfpipeDelivery(
                delivery_id=delivery_id, state="done", summary_path="", summary_sha256=""
            )
            session.add(known)
        known.state = "done"
        known.summary_path = _rel(path)
        known.summary_sha256 = hashlib.sha256(data).hexdigest()
        return summary


def _verify_done(session: Session, known: M.HalfpipeDelivery) -> dict:
    path = _abs(known.summary_path)
    if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != known.summary_sha256:
        raise HalfpipeError(f"delivery {known.delivery_id}: summary {path} is missing or altered")
    for f in session.scalars(select(M.HalfpipeFile).where(M.HalfpipeFile.delivery_id == known.delivery_id)):
        p = _abs(f.path)
        if not p.is_file() or hashlib.sha256(p.read_bytes()).hexdigest() != f.sha256:
            raise HalfpipeError(f"delivery {known.delivery_id}: merged file {p} is missing or altered")
    return json.loads(path.read_text(encoding="utf-8"))


def _merge(session: Session, delivery_id: str, pk: DeliveryPackets, options: HalfpipeOptions) -> dict:
    summary: dict = {
        "format": SUMMARY_FORMAT,
        "format_version": 1,
        "delivery_id": delivery_id,
        "runs": [],
        "retired_runs": [],
        "problems": [],
    }
    is_sc = pk.apid == options.spacecraft_apid
    summary["spacecraft"] = _spacecraft(delivery_id, pk.select(is_sc))
    summary["problems"].extend(summary["spacecraft"].pop("problems"))
    ev = pk.select(~is_sc)
    ra = reassemble(
        ev.apid,
        ev.seq_flags,
        ev.seq_count,
        ev.sec,
        ev.usec,
        ev.payload,
        ev.payload_offset,
        ev.payload_length,
        source=ev.source_names,
        source_offset=ev.source_offset,
        source_index=ev.source_index,
    )

    # fragments: join with the pending ones of other deliveries
    pending_rows = list(
        session.scalars(
            select(M.HalfpipeFragment)
            .where(M.HalfpipeFragment.state == "pending", M.HalfpipeFragment.delivery_id != delivery_id)
            .order_by(M.HalfpipeFragment.id)
        )
    )
    old = []
    for row in pending_rows:
        data = _abs(row.path).read_bytes()
        old.append(
            Fragment(
                row.apid,
                row.first_count,
                row.last_count,
                row.first_flag,
                row.last_flag,
                row.sec,
                row.usec,
                data,
                row.source,
                row.source_offset,
            )
        )
    whole, rest = join_fragments(old + ra.fragments, options.fragment_max_seconds)
    for row, fr in zip(pending_rows, old, strict=True):
        if not any(fr is r for r in rest):
            row.state, row.joined_by = "joined", delivery_id
    new_frags = [fr for fr in rest if any(fr is r for r in ra.fragments)]
    for fr in new_frags:
        path = halfpipe_dir() / "fragments" / delivery_id / f"{fr.apid}-{fr.sec}-{fr.first_count:05d}.bin"
        write_atomic(path, fr.data)
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
                path=_rel(path),
                state="pending",
            )
        )
    summary["fragments"] = {"joined": len(whole), "kept": len(new_frags)}

    # all whole datagrams of this delivery, decoded
    extra = [np.frombuffer(fr.data, np.uint8) for fr in whole]
    lens = np.concatenate([ra.length, [e.size for e in extra]]).astype(np.int64)
    buf = np.concatenate([ra.buffer, *extra]) if extra else ra.buffer
    dec = decode_datagrams(
        buf,
        np.cumsum(lens) - lens,
        lens,
        np.concatenate([ra.apid, [fr.apid for fr in whole]]).astype(np.int64),
        np.concatenate([ra.sec, [fr.sec for fr in whole]]).astype(np.int64),
        np.concatenate([ra.usec, [fr.usec for fr in whole]]).astype(np.int64),
        source=ra.source + [fr.source for fr in whole],
        source_offset=np.concatenate([ra.source_offset, [fr.offset for fr in whole]]).astype(np.int64),
    )
    dg = dec.datagrams
    for d, p in zip(np.flatnonzero(dg["status"] != 0).tolist(), dec.problems, strict=True):
        session.add(
            M.HalfpipeProblem(
                delivery_id=delivery_id,
                run_id=None if p.code in _HEADER_UNUSABLE else int(dg["run"][d]),
                apid=p.apid,
                source=p.source,
                source_offset=p.source_offset,
                offset=p.offset,
                reason=p.reason,
                events_lost=p.events_lost,
            )
        )
        summary["problems"].append(str(p))
    usable = ~np.isin(dg["status"], _HEADER_UNUSABLE)
    for run_id in np.unique(dg["run"][usable]).tolist():
        idx = np.flatnonzero(usable & (dg["run"] == run_id))
        summary["runs"].append(_merge_run(session, delivery_id, int(run_id), dec, idx, options))
    summary["retired_runs"] = [
        {"run_id": r["run_id"], "status": r["status"]} for r in summary["runs"] if r.get("retired_now")
    ]
    return summary


def _spacecraft(delivery_id: str, sc: DeliveryPackets) -> dict:
    if sc.apid.size == 0:
        return {"path": None, "n_samples": 0, "problems": []}
    samples, problems = decode_records(
        sc.payload, sc.payload_offset, sc.payload_length, delivery_id, source_offset=sc.source_offset
    )
    path = halfpipe_dir() / "spacecraft" / f"{delivery_id}.arrow"
    sha = write_samples(path, samples, delivery_id)
    met = samples["met"]
    return {
        "path": _rel(path),
        "sha256": sha,
        "n_samples": int(met.size),
        "met_start": float(met[0]) if met.size else None,
        "met_stop": float(met[-1]) if met.size else None,
        "problems": [str(p) for p in problems],
    }


def _run_rows(session: Session, run_id: int) -> dict[str, np.ndarray]:
    rows = session.execute(
        select(
            M.HalfpipeDatagram.id,
            M.HalfpipeDatagram.apid,
            M.HalfpipeDatagram.seq,
            M.HalfpipeDatagram.open_action,
            M.HalfpipeDatagram.close_action,
            M.HalfpipeDatagram.first_gem,
            M.HalfpipeDatagram.last_gem,
            M.HalfpipeDatagram.met,
            M.HalfpipeDatagram.sha256,
            M.HalfpipeDatagram.done,
            M.HalfpipeDatagram.n_events,
            M.HalfpipeDatagram.n_decoded,
        )
        .where(M.HalfpipeDatagram.run_id == run_id)
        .order_by(M.HalfpipeDatagram.apid, M.HalfpipeDatagram.seq)
    ).all()
    names = (
        "id",
        "apid",
        "seq",
        "open_action",
        "close_action",
        "first_gem",
        "last_gem",
        "met",
        "sha256",
        "done",
        "n_events",
        "n_decoded",
    )
    if not rows:
        return {n: np.empty(0, dtype=object if n == "sha256" else np.int64) for n in names}
    cols = list(zip(*rows, strict=True))
    return {
        n: np.array(c, dtype=object if n == "sha256" else (np.float64 if n == "met" else np.int64))
        for n, c in zip(names, cols, strict=True)
    }


def _stored_gem_values(session: Session, row_id: int) -> np.ndarray:
    """GEM numbers of the events of one stored datagram (decoded from the store)."""
    r = session.get(M.HalfpipeDatagram, row_id)
    p = _abs(r.store_path)
    if not p.is_file():
        raise HalfpipeError(
            f"run {r.run_id}: stored datagrams {p} are missing (datagram {r.seq} of APID {r.apid})"
        )
    with p.open("rb") as fh:
        fh.seek(r.store_offset)
        data = np.frombuffer(fh.read(r.length), np.uint8)
    dec = decode_datagrams(data, np.zeros(1, np.int64), np.array([r.length], np.int64), np.array([r.apid]))
    return dec.events["gem_seq"].astype(np.int64)


def loss_estimate(
    session: Session, run_id: int, options: HalfpipeOptions, rows: dict[str, np.ndarray] | None = None
) -> LossEstimate:
    """Events in the run's missing datagrams, as far as the GEM sequence tells (:mod:`fermi_halfpipe.losses`)."""
    rows = _run_rows(session, run_id) if rows is None else rows
    cache: dict[int, np.ndarray] = {}

    def gem_values(row_id: int) -> np.ndarray:
        if row_id not in cache:
            cache[row_id] = _stored_gem_values(session, row_id)
        return cache[row_id]

    return estimate_losses(rows, list(options.epu_apids), gem_values)


def segments(seq: np.ndarray) -> list[tuple[int, int]]:
    """Index ranges ``[s, e]`` of the contiguous runs of a sorted datagram sequence."""
    if seq.size == 0:
        return []
    brk = np.flatnonzero(np.diff(seq) != 1)
    starts = np.r_[0, brk + 1]
    ends = np.r_[brk, seq.size - 1]
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def coverage(rows: dict[str, np.ndarray], apid: int) -> ivl.Intervals:
    """GEM-sequence ranges in which every event of EPU ``apid`` is in hand (module docstring, 5)."""
    sel = rows["apid"] == apid
    seq, op, cl = rows["seq"][sel], rows["open_action"][sel], rows["close_action"][sel]
    g0, g1 = rows["first_gem"][sel], rows["last_gem"][sel]
    out: ivl.Intervals = []
    for s, e in segments(seq):
        has = g0[s : e + 1] >= 0
        lo = (
            0
            if (seq[s] == 0 and op[s] == OPEN_START)
            else (int(g0[s : e + 1][has].min()) if has.any() else None)
        )
        hi = ivl.INF if cl[e] in RUN_END_ACTIONS else (int(g1[s : e + 1][has].max()) if has.any() else None)
        if lo is not None and hi is not None and lo <= hi:
            out.append((lo, hi))
    return ivl.normalise(out)


def completeness(rows: dict[str, np.ndarray], apids: Sequence[int]) -> list[str]:
    """What is missing for the run to be complete (empty list: complete)."""
    missing = []
    for apid in apids:
        sel = rows["apid"] == apid
        seq = rows["seq"][sel]
        if seq.size == 0:
            missing.append(f"APID {apid}: no datagram received")
            continue
        segs = segments(seq)
        if seq[0] != 0 or rows["open_action"][sel][0] != OPEN_START:
            missing.append(f"APID {apid}: run start missing (first datagram {int(seq[0])})")
        for (_, e), (s, _) in itertools.pairwise(segs):
            missing.append(f"APID {apid}: datagrams {int(seq[e]) + 1}-{int(seq[s]) - 1} missing")
        if rows["close_action"][sel][-1] not in RUN_END_ACTIONS:
            missing.append(
                f"APID {apid}: run end missing (last datagram {int(seq[-1])} closes with continue)"
            )
    return missing


def _epu_violation(dec: DecodedDatagrams, idx: np.ndarray, options: HalfpipeOptions) -> str | None:
    dg = dec.datagrams
    apids = dg["apid"][idx]
    extra = sorted(set(apids.tolist()) - set(options.epu_apids))
    if extra:
        crates = sorted(set(dg["crate"][idx][np.isin(apids, extra)].tolist()))
        return (
            f"event datagrams from APID(s) {extra} (crate {crates}), outside the expected EPU set "
            f"{ {a: f'EPU{c}' for a, c in options.epu_apids.items()} }: a run must come from exactly these two EPUs"
        )
    for apid, crate in options.epu_apids.items():
        wrong = sorted(set(dg["crate"][idx][apids == apid].tolist()) - {crate})
        if wrong:
            return f"APID {apid} carries datagrams of crate {wrong}, expected EPU{crate}"
    return None


def _store(
    delivery_id: str, run_id: int, apid: int, dec: DecodedDatagrams, idx: np.ndarray
) -> tuple[Path, np.ndarray]:
    """Write datagrams ``idx`` to the run's store file of this delivery; return (path, offsets)."""
    dg = dec.datagrams
    off, ln = dg["offset"][idx], dg["length"][idx]
    gather = np.arange(int(ln.sum()), dtype=np.int64) + np.repeat(off - (np.cumsum(ln) - ln), ln)
    path = halfpipe_dir() / "store" / f"r{run_id:010d}" / f"{delivery_id}-{apid}.dgm"
    write_atomic(path, dec.buffer[gather].tobytes())
    return path, np.cumsum(ln) - ln


def _merge_run(
    session: Session,
    delivery_id: str,
    run_id: int,
    dec: DecodedDatagrams,
    idx: np.ndarray,
    options: HalfpipeOptions,
) -> dict:
    run = _lock(session, run_id, delivery_id)
    dg = dec.datagrams
    report: dict = {"run_id": run_id, "duplicate_datagrams": 0, "conflicting_datagrams": 0}
    run.ground_id = int(dg["ground_id"][idx[0]])
    violation = _epu_violation(dec, idx, options)
    if violation is not None and run.status != M.REJECTED:
        run.status, run.reason = M.REJECTED, f"delivery {delivery_id}: {violation}"

    rows = _run_rows(session, run_id)
    new_ids: list[int] = []
    for apid in np.unique(dg["apid"][idx]).tolist():
        sel = idx[dg["apid"][idx] == apid]
        met = dg["sec"][sel] + dg["usec"][sel] * 1e-6
        sel = sel[np.argsort(met, kind="stable")]
        met = np.sort(met, kind="stable")
        raw = dg["datagram_seq"][sel]
        known = rows["apid"] == apid
        if known.any():
            ref = int(np.argmin(np.abs(rows["met"][known] - met[0])))
            anchor = nearest_unroll(int(raw[0]), DATAGRAM_SEQ_BITS, int(rows["seq"][known][ref]))
        else:
            anchor = int(raw[0])
        seq = unroll_counter(raw, DATAGRAM_SEQ_BITS, anchor)
        sha = [
            hashlib.sha256(dec.buffer[o : o + n].tobytes()).hexdigest()
            for o, n in zip(dg["offset"][sel], dg["length"][sel], strict=True)
        ]
        old = dict(zip(rows["seq"][known].tolist(), rows["sha256"][known].tolist(), strict=True))
        first = np.ones(sel.size, dtype=bool)
        seen: dict[int, str] = {}
        for k, s in enumerate(seq.tolist()):
            prior = old.get(s, seen.get(s))
            if prior is not None:
                first[k] = False
                report["duplicate_datagrams"] += 1
                if prior != sha[k]:
                    report["conflicting_datagrams"] += 1
                    session.add(
                        M.HalfpipeProblem(
                            delivery_id=delivery_id,
                            run_id=run_id,
                            apid=apid,
                            source=dec.sources[sel[k]],
                            source_offset=int(dg["source_offset"][sel[k]]),
                            offset=0,
                            reason=f"datagram {s} differs from the copy stored earlier; earlier copy kept",
                            events_lost=0,
                        )
                    )
            else:
                seen[s] = sha[k]
        for s, e in segments(np.unique(seq)):
            u = np.unique(seq)
            session.add(
                M.HalfpipeSighting(
                    run_id=run_id,
                    apid=apid,
                    delivery_id=delivery_id,
                    seq_first=int(u[s]),
                    seq_last=int(u[e]),
                    n_duplicates=int(np.count_nonzero(~first & (seq >= u[s]) & (seq <= u[e]))),
                )
            )
        keep = sel[first]
        if keep.size == 0:
            continue
        order = np.argsort(seq[first], kind="stable")
        keep, kseq = keep[order], seq[first][order]
        ksha = [sha[i] for i in np.flatnonzero(first)[order]]
        path, offs = _store(delivery_id, run_id, apid, dec, keep)
        objs = [
            M.HalfpipeDatagram(
                run_id=run_id,
                apid=apid,
                seq=int(kseq[k]),
                delivery_id=delivery_id,
                store_path=_rel(path),
                store_offset=int(offs[k]),
                length=int(dg["length"][d]),
                sha256=ksha[k],
                met=float(dg["sec"][d] + dg["usec"][d] * 1e-6),
                crate=int(dg["crate"][d]),
                open_action=int(dg["open_action"][d]),
                close_action=int(dg["close_action"][d]),
                n_events=int(dg["n_events"][d]),
                n_decoded=int(dg["n_decoded"][d]),
                status=int(dg["status"][d]),
                first_gem=int(dg["first_gem"][d]),
                last_gem=int(dg["last_gem"][d]),
                done=False,
            )
            for k, d in enumerate(keep.tolist())
        ]
        session.add_all(objs)
        session.flush()
        new_ids.extend(o.id for o in objs)
    run.n_duplicates += report["duplicate_datagrams"]
    report.update(_deliver_run(session, run, delivery_id, set(new_ids), options, force=False))
    return report


def _spans(session: Session, run_id: int) -> ivl.Intervals:
    return [
        (int(lo), int(hi))
        for lo, hi in session.execute(
            select(M.HalfpipeSpan.lo, M.HalfpipeSpan.hi)
            .where(M.HalfpipeSpan.run_id == run_id)
            .order_by(M.HalfpipeSpan.lo)
        ).all()
    ]


def _load_events(session: Session, run_id: int) -> tuple[DecodedDatagrams, list[M.HalfpipeDatagram]]:
    """Decode the stored datagrams of the run that still have undelivered events."""
    pend = list(
        session.scalars(
            select(M.HalfpipeDatagram)
            .where(M.HalfpipeDatagram.run_id == run_id, M.HalfpipeDatagram.done.is_(False))
            .order_by(M.HalfpipeDatagram.apid, M.HalfpipeDatagram.seq)
        )
    )
    parts, cache = [], {}
    for r in pend:
        if r.store_path not in cache:
            p = _abs(r.store_path)
            if not p.is_file():
                raise HalfpipeError(
                    f"run {run_id}: stored datagrams {p} are missing (datagram {r.seq} of APID {r.apid})"
                )
            cache[r.store_path] = np.fromfile(p, dtype=np.uint8)
        parts.append(cache[r.store_path][r.store_offset : r.store_offset + r.length])
    lens = np.array([r.length for r in pend], dtype=np.int64)
    buf = np.concatenate(parts) if parts else np.empty(0, np.uint8)
    dec = decode_datagrams(
        buf,
        np.cumsum(lens) - lens,
        lens,
        np.array([r.apid for r in pend], dtype=np.int64),
        source=[r.store_path for r in pend],
        source_offset=np.array([r.store_offset for r in pend], dtype=np.int64),
    )
    return dec, pend


def _deliver_run(
    session: Session, run: M.HalfpipeRun, label: str, new_ids: set[int], options: HalfpipeOptions, force: bool
) -> dict:
    """Merge and write what can be delivered now; update held/late rows, status and counters."""
    run_id = run.run_id
    rows = _run_rows(session, run_id)
    apids = list(options.epu_apids)
    old_spans = _spans(session, run_id)
    if run.status == M.OPEN:
        mergeable = ivl.intersect(coverage(rows, apids[0]), coverage(rows, apids[1]))
        if force:
            mergeable = [(0, ivl.INF)]
        new_spans = ivl.subtract(mergeable, old_spans)
    else:
        new_spans = []
    dec, pend = _load_events(session, run_id)
    ev = dec.events
    gem = ev["gem_seq"].astype(np.int64)
    dgm_row = (
        np.array([r.id for r in pend], dtype=np.int64)[ev["datagram"]] if pend else np.empty(0, np.int64)
    )
    is_new = np.isin(dgm_row, list(new_ids))
    in_old = ivl.member(gem, old_spans) >= 0
    which = ivl.member(gem, new_spans)
    late = is_new & in_old
    files = []
    n_delivered = 0
    a_sel = np.flatnonzero((which >= 0) & (ev["apid"] == apids[0]))
    b_sel = np.flatnonzero((which >= 0) & (ev["apid"] == apids[1]))
    dup_events = 0
    if new_spans:
        a_sel = a_sel[np.argsort(gem[a_sel], kind="stable")]
        b_sel = b_sel[np.argsort(gem[b_sel], kind="stable")]
        # a repeated GEM sequence within one EPU (should not happen) is kept once and reported
        a_keep = np.r_[True, np.diff(gem[a_sel]) != 0] if a_sel.size else np.empty(0, bool)
        b_keep = np.r_[True, np.diff(gem[b_sel]) != 0] if b_sel.size else np.empty(0, bool)
        dup_events += int((~a_keep).sum() + (~b_keep).sum())
        a_sel, b_sel = a_sel[a_keep], b_sel[b_keep]
        m = merge_streams(ev["gem_seq"][a_sel], ev["gem_seq"][b_sel])
        dup_events += int(m.duplicate.size)
        both = np.concatenate([a_sel, b_sel])
        out = both[m.order]
        span_of = which[out]
        seq_of_dgm = np.array([r.seq for r in pend], dtype=np.int64)
        for k, (lo, hi) in enumerate(new_spans):
            sel = out[span_of == k]
            for start in range(0, max(sel.size, 1), options.max_events):
                part = sel[start : start + options.max_events]
                if part.size:
                    files.append(_write_file(session, run_id, label, dec, part, seq_of_dgm, options))
            session.add(
                M.HalfpipeSpan(run_id=run_id, lo=lo, hi=hi, delivery_id=label, n_events=int(sel.size))
            )
            n_delivered += int(sel.size)
    all_spans = ivl.normalise(old_spans + new_spans)
    delivered_now = ivl.member(gem, all_spans) >= 0
    held = ~delivered_now
    # held-back and late events, grouped by where they are stored
    session.execute(
        delete(M.HalfpipeHeld).where(M.HalfpipeHeld.run_id == run_id, M.HalfpipeHeld.kind == "held")
    )
    # one row per (kind, APID, store file): group at datagram level, then map events to groups
    names, group_of_dgm = np.unique([f"{r.apid}\t{r.store_path}" for r in pend] or [""], return_inverse=True)
    group_of_event = group_of_dgm.reshape(-1)[ev["datagram"]] if pend else np.empty(0, np.int64)
    dgm_seq = np.array([r.seq for r in pend], dtype=np.int64)
    for kind, mask in (("held", held), ("late", late)):
        for g in np.unique(group_of_event[mask]).tolist():
            pick = np.flatnonzero(mask & (group_of_event == g))
            seqs = dgm_seq[ev["datagram"][pick]]
            apid, store = str(names[g]).split("\t")
            session.add(
                M.HalfpipeHeld(
                    run_id=run_id,
                    apid=int(apid),
                    kind=kind,
                    store_path=store,
                    seq_first=int(seqs.min()),
                    seq_last=int(seqs.max()),
                    first_gem=int(gem[pick].min()),
                    last_gem=int(gem[pick].max()),
                    n_events=int(pick.size),
                )
            )
    # datagrams whose events are all delivered (or late) are done
    if pend:
        open_count = np.bincount(ev["datagram"][held & ~late], minlength=len(pend))
        for d, r in enumerate(pend):
            if open_count[d] == 0:
                r.done = True
    run.n_delivered += n_delivered
    run.n_held = int((held & ~late).sum())
    run.n_late += int(late.sum())
    missing = completeness(rows, apids)
    retired_now = False
    if run.status == M.OPEN and not missing:
        run.status, run.retired_by, retired_now = M.COMPLETE, label, True
    gaps = [[hi + 1, lo - 1] for (_, hi), (lo, _) in itertools.pairwise(all_spans) if lo > hi + 1]
    losses = loss_estimate(session, run_id, options, rows)
    return {
        **losses.as_dict(),
        "status": run.status,
        "reason": run.reason,
        "delivered": n_delivered,
        "held_back": run.n_held,
        "late": int(late.sum()),
        "duplicate_events": dup_events,
        "files": files,
        "spans": [[lo, hi] for lo, hi in new_spans],
        "event_gaps": gaps,
        "missing": missing,
        "retired_now": retired_now,
    }


def _write_file(
    session: Session,
    run_id: int,
    label: str,
    dec: DecodedDatagrams,
    part: np.ndarray,
    seq_of_dgm: np.ndarray,
    options: HalfpipeOptions,
) -> dict:
    ev = dec.events
    ln = ev["length"][part]
    out_off = np.cumsum(ln) - ln
    gather = np.arange(int(ln.sum()), dtype=np.int64) + np.repeat(ev["offset"][part] - out_off, ln)
    records = dec.buffer[gather]
    cols = {k: v[part] for k, v in ev.items() if k not in ("offset", "length", "datagram")}
    (a0, c0), (_, c1) = options.epu_apids.items()
    cols["epu"] = np.where(cols["apid"] == a0, c0, c1)
    cols["datagram_seq"] = seq_of_dgm[ev["datagram"][part]]
    data = encode_merged(cols, records, np.r_[out_off, ln.sum()].astype(np.int64), run_id, label)
    first, last = int(ev["gem_seq"][part[0]]), int(ev["gem_seq"][part[-1]])
    path = runs_dir() / f"{run_id}" / merged_file_name(run_id, first)
    sha = write_merged(path, data)
    session.add(
        M.HalfpipeFile(
            run_id=run_id,
            delivery_id=label,
            first_gem=first,
            last_gem=last,
            n_events=int(part.size),
            path=_rel(path),
            sha256=sha,
        )
    )
    return {
        "path": _rel(path),
        "sha256": sha,
        "first_gem": first,
        "last_gem": last,
        "n_events": int(part.size),
    }


# ------------------------------------------------------------------------------------------------
# operator actions and status
# ------------------------------------------------------------------------------------------------


def force_complete(
    run_id: int, reason: str, options: HalfpipeOptions | None = None, url: str | None = None
) -> dict:
    """Retire an open run as incomplete: deliver every held-back event, record the reason.

    Raises
    ------
    HalfpipeError
        If the reason is empty, the run is unknown, or it is not open (names the run and status).
    """
    options = options or HalfpipeOptions()
    if not reason.strip():
        raise HalfpipeError(f"run {run_id}: a reason is required to force-complete a run")
    label = f"force-r{run_id:010d}"
    with session_scope(url) as session:
        _lock_database(session, label)
        if session.scalar(select(M.HalfpipeRun.id).where(M.HalfpipeRun.run_id == run_id)) is None:
            raise HalfpipeError(f"run {run_id}: unknown to the halfpipe (no datagram merged)")
        run = _lock(session, run_id, label)
        if run.status != M.OPEN:
            raise HalfpipeError(
                f"run {run_id}: status is {run.status} ({run.reason or 'no reason'}); only open runs can be forced"
            )
        missing = completeness(_run_rows(session, run_id), list(options.epu_apids))
        report = _deliver_run(session, run, label, set(), options, force=True)
        run.status, run.retired_by = M.INCOMPLETE, label
        run.reason = f"forced by operator: {reason.strip()}" + (
            f" (missing: {'; '.join(missing)})" if missing else ""
        )
        report.update({"run_id": run_id, "status": run.status, "reason": run.reason, "retired_now": True})
        path = halfpipe_dir() / "forced" / f"r{run_id:010d}.json"
        write_atomic(path, (json.dumps(report, indent=1, sort_keys=True) + "\n").encode())
        return report


def run_status(
    run_id: int | None = None, options: HalfpipeOptions | None = None, url: str | None = None
) -> list[dict]:
    """Status of one run (or of every run): state, reason, counters, datagram intervals, files."""
    options = options or HalfpipeOptions()
    with session_scope(url) as session:
        q = select(M.HalfpipeRun).order_by(M.HalfpipeRun.run_id)
        if run_id is not None:
            q = q.where(M.HalfpipeRun.run_id == run_id)
        out = []
        for run in session.scalars(q):
            rows = _run_rows(session, run.run_id)
            sightings = session.execute(
                select(
                    M.HalfpipeSighting.apid,
                    M.HalfpipeSighting.delivery_id,
                    M.HalfpipeSighting.seq_first,
                    M.HalfpipeSighting.seq_last,
                    M.HalfpipeSighting.n_duplicates,
                )
                .where(M.HalfpipeSighting.run_id == run.run_id)
                .order_by(M.HalfpipeSighting.apid, M.HalfpipeSighting.seq_first, M.HalfpipeSighting.id)
            ).all()
            out.append(
                {
                    **loss_estimate(session, run.run_id, options, rows).as_dict(),
                    "run_id": run.run_id,
                    "status": run.status,
                    "reason": run.reason,
                    "delivered": run.n_delivered,
                    "held_back": run.n_held,
                    "late": run.n_late,
                    "duplicate_datagrams": run.n_duplicates,
                    "retired_by": run.retired_by,
                    "missing": completeness(rows, list(options.epu_apids)),
                    "datagrams": [
                        {"apid": a, "delivery": d, "first": int(f), "last": int(la), "duplicates": int(n)}
                        for a, d, f, la, n in sightings
                    ],
                    "spans": [list(s) for s in _spans(session, run.run_id)],
                    "held": [
                        {
                            "kind": h.kind,
                            "apid": h.apid,
                            "store": h.store_path,
                            "datagrams": [h.seq_first, h.seq_last],
                            "gem": [h.first_gem, h.last_gem],
                            "n_events": h.n_events,
                        }
                        for h in session.scalars(
                            select(M.HalfpipeHeld)
                            .where(M.HalfpipeHeld.run_id == run.run_id)
                            .order_by(M.HalfpipeHeld.id)
                        )
                    ],
                    "files": [
                        {
                            "path": f.path,
                            "sha256": f.sha256,
                            "first_gem": f.first_gem,
                            "last_gem": f.last_gem,
                            "n_events": f.n_events,
                        }
                        for f in session.scalars(
                            select(M.HalfpipeFile)
                            .where(M.HalfpipeFile.run_id == run.run_id)
                            .order_by(M.HalfpipeFile.first_gem)
                        )
                    ],
                }
            )
        return out
