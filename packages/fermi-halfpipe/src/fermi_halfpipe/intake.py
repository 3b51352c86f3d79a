"""Merge of one delivery's packets inside the merge transaction (steps 1–6 of :mod:`fermi_halfpipe.stitch`).

:func:`merge_delivery_packets` extracts the spacecraft samples, reassembles the event datagrams
(joining fragments of other deliveries, keeping new ones), decodes them, records the malformed
ones, and for each run: applies the EPU rule, unrolls and de-duplicates the datagram sequence,
stores the new datagrams and delivers what can be merged (:func:`fermi_halfpipe.release.deliver_run`).
It returns the delivery summary (a dict, as written to disk by the entry point).

Memory is a fixed working set (issue 18): the delivery is read in pieces of
:attr:`~fermi_halfpipe.options.HalfpipeOptions.piece_bytes` (:func:`_read_pieces`), whose whole
datagrams are spooled to disk (:class:`fermi_halfpipe.store.DatagramSpool`) with only their
header columns and SHA-256 kept; store files are written from the spool in batches, and the
merge reads the store in batches and GEM windows (:mod:`fermi_halfpipe.release`). What grows
with a delivery is a few hundred bytes of columns and database rows per datagram.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import insert
from sqlalchemy.orm import Session

from fermi_core.checksum import sha256_bytes
from fermi_core.site import Site
from fermi_halfpipe import models as M
from fermi_halfpipe.datagram import (
    DecodedDatagrams,
    Fragment,
    decode_datagrams,
    gather_records,
    join_fragments,
    reassemble,
)
from fermi_halfpipe.format import DATAGRAM_SEQ_BITS
from fermi_halfpipe.locks import lock_run
from fermi_halfpipe.merge import nearest_unroll, unroll_counter
from fermi_halfpipe.options import HalfpipeOptions
from fermi_halfpipe.release import deliver_run
from fermi_halfpipe.report import RunReport, StepReport, run_report
from fermi_halfpipe.rules import epu_violation, first_copies, segments, wall_deadline
from fermi_halfpipe.runkeys import record_and_check
from fermi_halfpipe.spacecraft import decode_records, write_samples
from fermi_halfpipe.states import as_utc, utcnow
from fermi_halfpipe.store import DatagramSpool, keep_fragment, pending_fragments, run_rows, store_datagrams
from fermi_ingest.published import AcceptedPackets

#: Decoder codes after which the datagram header cannot be trusted (run unknown).
HEADER_UNUSABLE = (1, 2, 3, 4)
SUMMARY_FORMAT = "fermi-halfpipe-delivery-summary"
#: Version 2: each run entry is a :class:`fermi_halfpipe.report.RunReport` (run totals, ``step``).
SUMMARY_VERSION = 2


@dataclass(frozen=True)
class LastData:
    """When a delivery's data arrived: its ``halfpipe_delivery`` row id and the wall time (UTC)."""

    delivery_row: int
    utc: datetime


def merge_delivery_packets(
    session: Session,
    site: Site,
    delivery_id: str,
    pk: AcceptedPackets | Iterable[AcceptedPackets],
    options: HalfpipeOptions,
    *,
    delivery_row: int = 0,
    now: datetime | None = None,
) -> dict:
    """Merge the packets of one delivery (module docstring); return the delivery summary.

    ``pk`` is the delivery's packets, or its pieces in arrival order
    (:class:`fermi_ingest.published.DeliveryPieces`; :meth:`AcceptedPackets.pieces`): each piece
    is reassembled and decoded on its own, a datagram cut by a piece boundary is carried to the
    next piece, and the datagram bytes wait in a :class:`~fermi_halfpipe.store.DatagramSpool`;
    nothing is written before the last piece was read, and the result is the same for any cut.

    ``delivery_row`` is the id of the delivery's ``halfpipe_delivery`` row and ``now`` the wall
    time (default: now): a run given new datagrams records both as its last data, and its
    deadline starts again from them (:func:`fermi_halfpipe.rules.decide_at_deadline`).
    """
    arrival = LastData(delivery_row, as_utc(now) if now is not None else utcnow())
    summary: dict = {
        "format": SUMMARY_FORMAT,
        "format_version": SUMMARY_VERSION,
        "delivery_id": delivery_id,
        "runs": [],
        "retired_runs": [],
        "problems": [],
    }
    pieces = pk.pieces(options.piece_bytes) if isinstance(pk, AcceptedPackets) else pk
    with DatagramSpool(site) as spool:
        read = _read_pieces(pieces, options, spool)
        summary["spacecraft"] = extract_spacecraft(session, site, delivery_id, read.spacecraft)
        summary["problems"].extend(summary["spacecraft"].pop("problems"))
        dec, fragments = _datagrams(session, site, delivery_id, read, options, spool)
        summary["fragments"] = fragments
        dg = dec.datagrams
        for d, p in zip(np.flatnonzero(dg["status"] != 0).tolist(), dec.problems, strict=True):
            session.add(
                M.HalfpipeProblem(
                    delivery_id=delivery_id,
                    run_id=None if p.code in HEADER_UNUSABLE else int(dg["run"][d]),
                    apid=p.apid,
                    source=p.source,
                    source_offset=p.source_offset,
                    offset=p.offset,
                    reason=p.reason,
                    events_lost=p.events_lost,
                )
            )
            summary["problems"].append(str(p))
        usable = ~np.isin(dg["status"], HEADER_UNUSABLE)
        reports = [
            _merge_run(
                session,
                site,
                delivery_id,
                int(run_id),
                dec,
                spool,
                np.flatnonzero(usable & (dg["run"] == run_id)),
                options,
                arrival,
            )
            for run_id in np.unique(dg["run"][usable]).tolist()
        ]
    summary["runs"] = [r.as_dict(wall_time=False) for r in reports]
    summary["retired_runs"] = [
        {"run_id": r.run_id, "status": r.counts.status}
        for r in reports
        if r.step is not None and r.step.retired_now
    ]
    return summary


def extract_spacecraft(session: Session, site: Site, delivery_id: str, sc: AcceptedPackets) -> dict:
    """Decode the delivery's spacecraft records into its sample file; register it (if any sample)."""
    if sc.apid.size == 0:
        return {"path": None, "n_samples": 0, "problems": []}
    samples, problems = decode_records(
        sc.payload, sc.payload_offset, sc.payload_length, delivery_id, source_offset=sc.source_offset
    )
    path = site.halfpipe_spacecraft / f"{delivery_id}.arrow"
    sha = write_samples(path, samples, delivery_id)
    met = samples["met"]
    if met.size:
        session.add(
            M.HalfpipeSpacecraftFile(
                delivery_id=delivery_id,
                path=site.relative(path),
                sha256=sha,
                n_samples=int(met.size),
                met_start=float(met[0]),
                met_stop=float(met[-1]),
            )
        )
    return {
        "path": site.relative(path),
        "sha256": sha,
        "n_samples": int(met.size),
        "met_start": float(met[0]) if met.size else None,
        "met_stop": float(met[-1]) if met.size else None,
        "problems": [str(p) for p in problems],
    }


@dataclass
class _Read:
    """What :func:`_read_pieces` keeps of a delivery: small columns, the datagram bytes are spooled.

    ``datagrams``: the whole datagrams of the delivery's own packets, decoded (no event columns;
    ``offset`` in the spool) and in arrival order of their first packet, with ``sha256`` of each
    and ``gem`` the GEM numbers of each one's events (what the merge's first pass needs of them);
    ``fragments``: the packets forming no whole datagram, in (APID, arrival) order.
    """

    spacecraft: AcceptedPackets
    datagrams: DecodedDatagrams
    sha256: list[str]
    gem: list[np.ndarray]
    fragments: list[Fragment]


def _compact(pk: AcceptedPackets, order: np.ndarray | None = None) -> AcceptedPackets:
    """The packets ``order`` (default: all) with their payloads copied into a buffer of their own."""
    if order is not None:
        pk = pk.select(order)
    payload, offsets = gather_records(pk.payload, pk.payload_offset, pk.payload_length)
    return AcceptedPackets(
        pk.apid, pk.seq_flags, pk.seq_count, pk.sec, pk.usec, payload, offsets, pk.payload_length,
        pk.source_names, pk.source_index, pk.source_offset,
    )  # fmt: skip


def _read_pieces(pieces: Iterable[AcceptedPackets], options: HalfpipeOptions, spool: DatagramSpool) -> _Read:
    """Read the delivery piece by piece: spacecraft packets kept, datagrams reassembled and spooled.

    Per APID, the packets of the last datagram begun in a piece and not finished there (no last
    packet yet) are carried into the next piece, so the reassembly sees exactly the packet
    groups it would see in the whole delivery; datagrams and fragments are then put in the
    order the whole delivery gives them (by arrival of their first packet).
    """
    sc_parts: list[AcceptedPackets] = []
    decoded: list[DecodedDatagrams] = []
    first_of: list[np.ndarray] = []
    shas: list[str] = []
    gems: list[np.ndarray] = []
    frags: list[tuple[int, int, Fragment]] = []  # (APID, arrival of first packet, fragment)
    carry, carry_at = None, np.empty(0, np.int64)  # carried packets, their arrival indices
    names: list[str] = []
    seen = 0

    def reassemble_part(ev: AcceptedPackets, at: np.ndarray, last: bool):
        ra = reassemble(
            ev.apid, ev.seq_flags, ev.seq_count, ev.sec, ev.usec, ev.payload, ev.payload_offset,
            ev.payload_length, source=ev.source_names, source_offset=ev.source_offset,
            source_index=ev.source_index,
        )  # fmt: skip
        keep_back: list[np.ndarray] = []
        if not last and len(ev):
            # the last packet of each APID: a fragment ending there without a tail goes on
            ends = {int(a): int(np.flatnonzero(ev.apid == a)[-1]) for a in np.unique(ev.apid).tolist()}
            for fr, pks in zip(ra.fragments, ra.fragment_packets, strict=True):
                if not fr.has_tail and int(pks[-1]) == ends[fr.apid]:
                    keep_back.append(pks)
        held = {int(p[0]) for p in keep_back}
        for fr, pks in zip(ra.fragments, ra.fragment_packets, strict=True):
            if int(pks[0]) not in held:
                frags.append((fr.apid, int(at[pks[0]]), fr))
        if len(ra):
            base = spool.append(ra.buffer)
            view = memoryview(ra.buffer)
            shas.extend(
                sha256_bytes(view[o : o + n])
                for o, n in zip(ra.offset.tolist(), ra.length.tolist(), strict=True)
            )
            dec = decode_datagrams(
                ra.buffer, ra.offset, ra.length, ra.apid, ra.sec, ra.usec, source=ra.source,
                source_offset=ra.source_offset, event_columns=False,
            )  # fmt: skip
            dec.datagrams["offset"] = dec.datagrams["offset"] + base
            gems.extend(_gem_per_datagram(dec))
            dec.buffer = np.empty(0, np.uint8)
            dec.events = {}
            decoded.append(dec)
            first_of.append(at[ra.first_packet])
        if not keep_back:
            return None, np.empty(0, np.int64)
        idx = np.sort(np.concatenate(keep_back))
        return _compact(ev, idx), at[idx]

    for piece in pieces:
        names = piece.source_names
        is_sc = piece.apid == options.spacecraft_apid
        at = seen + np.arange(len(piece), dtype=np.int64)
        seen += len(piece)
        if is_sc.any():
            sc_parts.append(_compact(piece, np.flatnonzero(is_sc)))
        ev = piece.select(~is_sc)
        ev_at = at[~is_sc]
        if carry is not None:
            ev = AcceptedPackets.concatenate([carry, ev], names)
            ev_at = np.concatenate([carry_at, ev_at])
        carry, carry_at = reassemble_part(ev, ev_at, last=False)
        del piece, ev
    if carry is not None:
        reassemble_part(carry, carry_at, last=True)
    spacecraft = AcceptedPackets.concatenate(sc_parts, names) if sc_parts else AcceptedPackets.empty()
    order = np.argsort(np.concatenate(first_of), kind="stable") if first_of else np.empty(0, np.int64)
    dec = _concatenate_decoded(decoded, order)
    frags.sort(key=lambda f: (f[0], f[1]))
    kept = order.tolist()
    return _Read(spacecraft, dec, [shas[i] for i in kept], [gems[i] for i in kept], [f[2] for f in frags])


def _gem_per_datagram(dec: DecodedDatagrams) -> list[np.ndarray]:
    """The GEM numbers (int64) of each datagram's events (the events come grouped by datagram, in order)."""
    counts = np.bincount(dec.events["datagram"], minlength=len(dec.sources))
    return np.split(dec.events["gem_seq"].astype(np.int64), np.cumsum(counts)[:-1])


def _objects(values: list) -> np.ndarray:
    """A 1-D object array of ``values`` (``np.array`` would stack arrays of one length into 2-D)."""
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        out[i] = v
    return out


def _concatenate_decoded(parts: list[DecodedDatagrams], order: np.ndarray) -> DecodedDatagrams:
    """The datagram tables of ``parts`` one after the other, then taken in ``order`` (no event table)."""
    if not parts:
        empty = decode_datagrams(np.empty(0, np.uint8), np.empty(0, np.int64), np.empty(0, np.int64),
                                 np.empty(0, np.int64), event_columns=False)  # fmt: skip
        empty.events = {}
        return empty
    dg = {k: np.concatenate([p.datagrams[k] for p in parts])[order] for k in parts[0].datagrams}
    sources = [s for p in parts for s in p.sources]
    problems = [q for p in parts for q in p.problems]
    # problems follow their datagrams: rank each by where its datagram went
    bad_rank = np.argsort(order, kind="stable")[
        np.flatnonzero(np.concatenate([p.datagrams["status"] for p in parts]) != 0)
    ]
    problems = [problems[i] for i in np.argsort(bad_rank, kind="stable").tolist()]
    return DecodedDatagrams(np.empty(0, np.uint8), dg, {}, problems, [sources[i] for i in order.tolist()])


def _datagrams(
    session: Session,
    site: Site,
    delivery_id: str,
    read: _Read,
    options: HalfpipeOptions,
    spool: DatagramSpool,
) -> tuple[DecodedDatagrams, dict]:
    """Every whole datagram of the delivery (fragments of other deliveries joined), decoded, with SHA-256.

    The joined datagrams are spooled and appended after the delivery's own (as before the
    pieces: their table rows come last). The result's ``sha256`` column holds each datagram's hash,
    its ``gem`` column the GEM numbers of each one's events (arrays).
    """
    pending_rows, old = pending_fragments(session, site, delivery_id)
    whole, rest = join_fragments(old + read.fragments, options.fragment_max_seconds)
    for row, fr in zip(pending_rows, old, strict=True):
        if not any(fr is r for r in rest):
            row.state, row.joined_by = "joined", delivery_id
    new_frags = [fr for fr in rest if any(fr is r for r in read.fragments)]
    for fr in new_frags:
        keep_fragment(session, site, delivery_id, fr)
    dec, shas, gems = read.datagrams, list(read.sha256), list(read.gem)
    if whole:
        data = [np.frombuffer(fr.data, np.uint8) for fr in whole]
        lens = np.array([e.size for e in data], dtype=np.int64)
        buf = np.concatenate(data)
        joined = decode_datagrams(
            buf,
            np.cumsum(lens) - lens,
            lens,
            np.array([fr.apid for fr in whole], dtype=np.int64),
            np.array([fr.sec for fr in whole], dtype=np.int64),
            np.array([fr.usec for fr in whole], dtype=np.int64),
            source=[fr.source for fr in whole],
            source_offset=np.array([fr.offset for fr in whole], dtype=np.int64),
            event_columns=False,
        )
        joined.datagrams["offset"] = joined.datagrams["offset"] + spool.append(buf)
        shas += [sha256_bytes(fr.data) for fr in whole]
        gems += _gem_per_datagram(joined)
        n = len(dec.sources)
        dec = _concatenate_decoded([dec, joined], np.arange(n + len(whole), dtype=np.int64))
    dec.datagrams["sha256"] = np.array(shas, dtype=object)
    dec.datagrams["gem"] = _objects(gems)
    return dec, {"joined": len(whole), "kept": len(new_frags)}


def _merge_run(
    session: Session,
    site: Site,
    delivery_id: str,
    run_id: int,
    dec: DecodedDatagrams,
    spool: DatagramSpool,
    idx: np.ndarray,
    options: HalfpipeOptions,
    arrival: LastData,
) -> RunReport:
    """Steps 3–6 for one run of the delivery: EPU rule, datagram bookkeeping, delivery."""
    run = lock_run(session, run_id, delivery_id)
    dg = dec.datagrams
    step = StepReport()
    run.ground_id = int(dg["ground_id"][idx[0]])
    violation = epu_violation(dg["apid"][idx], dg["crate"][idx], options.epu_apids)
    if violation is not None and run.status != M.REJECTED:
        held_for = f" (was held: {run.reason})" if run.status == M.MISMATCH else ""
        run.status, run.reason = M.REJECTED, f"delivery {delivery_id}: {violation}{held_for}"
    record_and_check(session, run, delivery_id, dec, idx, options)

    rows = run_rows(session, run_id)
    new: dict[int, np.ndarray] = {}
    for apid in np.unique(dg["apid"][idx]).tolist():
        new.update(_store_epu(session, site, delivery_id, run_id, apid, dec, spool, idx, rows, step, options))
    run.n_duplicates += step.duplicate_datagrams
    if new:
        run.last_data_utc, run.last_data_delivery = arrival.utc, arrival.delivery_row
        run.deadline_utc = wall_deadline(arrival.utc, options)
        run.deadline_deliveries = options.deadline_deliveries
    done = deliver_run(session, site, run, delivery_id, new, options, force=False)
    done.duplicate_datagrams, done.conflicting_datagrams = (
        step.duplicate_datagrams,
        step.conflicting_datagrams,
    )
    return run_report(session, site, run, options, done)


def _store_epu(
    session: Session,
    site: Site,
    delivery_id: str,
    run_id: int,
    apid: int,
    dec: DecodedDatagrams,
    spool: DatagramSpool,
    idx: np.ndarray,
    rows,
    step: StepReport,
    options: HalfpipeOptions,
) -> dict[int, np.ndarray]:
    """Unroll, de-duplicate and store the datagrams of one EPU; return the new rows: id -> GEM numbers.

    The datagrams' bytes come from ``spool``; ``dec`` has their columns, ``sha256`` and ``gem``
    (the GEM numbers of each one's events, returned for its row).
    """
    dg = dec.datagrams
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
    sha = dg["sha256"][sel].tolist()  # hashed where they lay when read
    copies = first_copies(
        seq, sha, dict(zip(rows["seq"][known].tolist(), rows["sha256"][known].tolist(), strict=True))
    )
    first = copies.first
    step.duplicate_datagrams += copies.n_duplicates
    step.conflicting_datagrams += len(copies.conflicts)
    for k in copies.conflicts:
        session.add(
            M.HalfpipeProblem(
                delivery_id=delivery_id,
                run_id=run_id,
                apid=apid,
                source=dec.sources[sel[k]],
                source_offset=int(dg["source_offset"][sel[k]]),
                offset=0,
                reason=f"datagram {int(seq[k])} differs from the copy stored earlier; earlier copy kept",
                events_lost=0,
            )
        )
    u = np.unique(seq)
    for s, e in segments(u):
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
        return {}
    order = np.argsort(seq[first], kind="stable")
    keep, kseq = keep[order], seq[first][order]
    ksha = [sha[i] for i in np.flatnonzero(first)[order]]
    store_path, offs = store_datagrams(
        site, delivery_id, run_id, apid, spool, dg["offset"][keep], dg["length"][keep], options.piece_bytes
    )
    rows = [
        dict(
            run_id=run_id,
            apid=apid,
            seq=int(kseq[k]),
            delivery_id=delivery_id,
            store_path=store_path,
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
    # multi-row INSERT ... RETURNING (the ORM inserted a flight hour's 7,900 rows one by one), the
    # ids in the order of the rows
    returning = insert(M.HalfpipeDatagram).returning(M.HalfpipeDatagram.id, sort_by_parameter_order=True)
    ids = [int(i) for i in session.scalars(returning, rows)]
    return dict(zip(ids, dg["gem"][keep].tolist(), strict=True))
