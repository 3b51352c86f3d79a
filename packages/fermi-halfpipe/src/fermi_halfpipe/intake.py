"""Merge of one delivery's packets inside the merge transaction (steps 1–6 of :mod:`fermi_halfpipe.stitch`).

:func:`merge_delivery_packets` extracts the spacecraft samples, reassembles the event datagrams
(joining fragments of other deliveries, keeping new ones), decodes them, records the malformed
ones, and for each run: applies the EPU rule, unrolls and de-duplicates the datagram sequence,
stores the new datagrams and delivers what can be merged (:func:`fermi_halfpipe.release.deliver_run`).
It returns the delivery summary (a dict, as written to disk by the entry point).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy.orm import Session

from fermi_core.checksum import sha256_bytes
from fermi_core.site import Site
from fermi_halfpipe import models as M
from fermi_halfpipe.datagram import DecodedDatagrams, decode_datagrams, join_fragments, reassemble
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
from fermi_halfpipe.store import keep_fragment, pending_fragments, resident_store, run_rows, store_datagrams
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
    pk: AcceptedPackets,
    options: HalfpipeOptions,
    *,
    delivery_row: int = 0,
    now: datetime | None = None,
) -> dict:
    """Merge the packets of one delivery (module docstring); return the delivery summary.

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
    is_sc = pk.apid == options.spacecraft_apid
    summary["spacecraft"] = extract_spacecraft(session, site, delivery_id, pk.select(is_sc))
    summary["problems"].extend(summary["spacecraft"].pop("problems"))
    dec, fragments = _datagrams(session, site, delivery_id, pk.select(~is_sc), options)
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


def _datagrams(
    session: Session, site: Site, delivery_id: str, ev: AcceptedPackets, options: HalfpipeOptions
) -> tuple[DecodedDatagrams, dict]:
    """Every whole datagram of the delivery (fragments of other deliveries joined), decoded."""
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
    pending_rows, old = pending_fragments(session, site, delivery_id)
    whole, rest = join_fragments(old + ra.fragments, options.fragment_max_seconds)
    for row, fr in zip(pending_rows, old, strict=True):
        if not any(fr is r for r in rest):
            row.state, row.joined_by = "joined", delivery_id
    new_frags = [fr for fr in rest if any(fr is r for r in ra.fragments)]
    for fr in new_frags:
        keep_fragment(session, site, delivery_id, fr)
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
        event_columns=False,  # the events are decoded from the store by each merge step
    )
    return dec, {"joined": len(whole), "kept": len(new_frags)}


def _merge_run(
    session: Session,
    site: Site,
    delivery_id: str,
    run_id: int,
    dec: DecodedDatagrams,
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
    new_ids: list[int] = []
    resident: dict[str, tuple[np.ndarray, dict[int, int]]] = {}  # store files written now (store.Resident)
    for apid in np.unique(dg["apid"][idx]).tolist():
        new_ids.extend(_store_epu(session, site, delivery_id, run_id, apid, dec, idx, rows, step, resident))
    run.n_duplicates += step.duplicate_datagrams
    if new_ids:
        run.last_data_utc, run.last_data_delivery = arrival.utc, arrival.delivery_row
        run.deadline_utc = wall_deadline(arrival.utc, options)
        run.deadline_deliveries = options.deadline_deliveries
    done = deliver_run(session, site, run, delivery_id, set(new_ids), options, force=False, resident=resident)
    resident.clear()
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
    idx: np.ndarray,
    rows,
    step: StepReport,
    resident: dict[str, tuple[np.ndarray, dict[int, int]]],
) -> list[int]:
    """Unroll, de-duplicate and store the datagrams of one EPU; return the new rows' ids.

    The store file written is added to ``resident`` (:data:`fermi_halfpipe.store.Resident`).
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
    view = memoryview(dec.buffer)  # each datagram hashed where it lies: no copy
    sha = [
        sha256_bytes(view[o : o + n])
        for o, n in zip(dg["offset"][sel].tolist(), dg["length"][sel].tolist(), strict=True)
    ]
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
        return []
    order = np.argsort(seq[first], kind="stable")
    keep, kseq = keep[order], seq[first][order]
    ksha = [sha[i] for i in np.flatnonzero(first)[order]]
    store_path, offs = store_datagrams(site, delivery_id, run_id, apid, dec, keep)
    resident[store_path] = resident_store(dec, keep, offs)
    objs = [
        M.HalfpipeDatagram(
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
    session.add_all(objs)
    session.flush()
    return [o.id for o in objs]
