"""Delivery of a run's mergeable events into merged files, and the held/late bookkeeping it leaves.

One call of :func:`deliver_run` is one merge step of one run: the rules of
:mod:`fermi_halfpipe.rules` say which GEM spans are new and which events are held or late; the
events of the new spans are merged by GEM sequence (:func:`fermi_halfpipe.merge.merge_streams`,
the numba kernel) and their records gathered (:func:`fermi_halfpipe.datagram.gather_records`) into merged files (split
at ``max_events``) under :meth:`fermi_core.site.Site.run_dir`; spans, files and held/late groups
are recorded, and the run's counters and status updated.

A run already retired (complete, incomplete or accepted) never gets "late" events: new datagrams
of such a run are merged into *new* merged files of each span they fall in (built from every
stored datagram of that span), named for the run's next revision and written beside the files
they replace, which stay on disk unchanged (:func:`revise_run`). :func:`retire` is the one place
a run is retired (revision 1, its loss counted).
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from fermi_core.site import Site
from fermi_halfpipe import intervals as ivl
from fermi_halfpipe import models as M
from fermi_halfpipe.datagram import DecodedDatagrams, gather_records
from fermi_halfpipe.losses import LossEstimate
from fermi_halfpipe.merge import merge_streams
from fermi_halfpipe.options import HalfpipeOptions
from fermi_halfpipe.outputs import merged_batch, merged_file_name, write_merged
from fermi_halfpipe.report import MergedFileEntry, StepReport, loss_estimate
from fermi_halfpipe.rules import account_events, completeness, deliverable_spans, first_of_each_gem
from fermi_halfpipe.states import RETIRED
from fermi_halfpipe.store import Resident, delivered_spans, load_in_range, load_pending, run_rows


def merge_order(gem: np.ndarray, a_sel: np.ndarray, b_sel: np.ndarray) -> tuple[np.ndarray, int]:
    """Merged order of the events ``a_sel`` (first EPU) and ``b_sel`` (second), by GEM number.

    A GEM number repeated within one EPU, or sent by both, is kept once (the first) and counted.

    Returns
    -------
    order, duplicates
        Event indices in merged order, and the number of events dropped as duplicates.
    """
    a_sel = a_sel[np.argsort(gem[a_sel], kind="stable")]
    b_sel = b_sel[np.argsort(gem[b_sel], kind="stable")]
    a_keep, b_keep = first_of_each_gem(gem[a_sel]), first_of_each_gem(gem[b_sel])
    dup = int((~a_keep).sum() + (~b_keep).sum())
    a_sel, b_sel = a_sel[a_keep], b_sel[b_keep]
    m = merge_streams(gem[a_sel], gem[b_sel])
    return np.concatenate([a_sel, b_sel])[m.order], dup + int(m.duplicate.size)


def deliver_run(
    session: Session,
    site: Site,
    run: M.HalfpipeRun,
    label: str,
    new_ids: set[int],
    options: HalfpipeOptions,
    force: bool,
    resident: Resident | None = None,
) -> StepReport:
    """Merge and write what can be delivered now; update held/late rows, status and counters.

    ``label`` names the step (a delivery id, or the force-complete label); ``new_ids`` are the
    rows of the datagrams this step stored (their events may be late); ``force`` delivers every
    event still held (an operator gives the run up); ``resident`` the store files this step has
    just written, by stored path (:func:`fermi_halfpipe.store.load_pending`).
    """
    if run.status in RETIRED:
        return revise_run(session, site, run, label, options)
    run_id = run.run_id
    rows = run_rows(session, run_id)
    apids = list(options.epu_apids)
    old_spans = delivered_spans(session, run_id)
    new_spans = deliverable_spans(rows, apids, old_spans, force) if (force or run.status == M.OPEN) else []
    dec, pend = load_pending(session, site, run_id, resident)
    ev = dec.events
    gem = ev["gem_seq"].astype(np.int64)
    row_id = np.array([r.id for r in pend], dtype=np.int64)
    dgm_seq = np.array([r.seq for r in pend], dtype=np.int64)
    dgm_row = row_id[ev["datagram"]] if pend else np.empty(0, np.int64)
    acc = account_events(gem, np.isin(dgm_row, list(new_ids)), old_spans, new_spans)
    step = StepReport(spans=list(new_spans))
    if new_spans:
        a_sel = np.flatnonzero((acc.span >= 0) & (ev["apid"] == apids[0]))
        b_sel = np.flatnonzero((acc.span >= 0) & (ev["apid"] == apids[1]))
        out, step.duplicate_events = merge_order(ev["gem_seq"], a_sel, b_sel)
        span_of = acc.span[out]
        for k, (lo, hi) in enumerate(new_spans):
            sel = out[span_of == k]
            for start in range(0, max(sel.size, 1), options.max_events):
                part = sel[start : start + options.max_events]
                if part.size:
                    step.files.append(write_file(session, site, run_id, label, dec, part, dgm_seq, options))
            session.add(
                M.HalfpipeSpan(run_id=run_id, lo=lo, hi=hi, delivery_id=label, n_events=int(sel.size))
            )
            step.delivered += int(sel.size)
    _record_held(session, run_id, pend, dec, gem, acc.held, acc.late)
    # datagrams whose events are all delivered (or late) are done
    if pend:
        open_count = np.bincount(ev["datagram"][acc.held & ~acc.late], minlength=len(pend))
        for d, r in enumerate(pend):
            if open_count[d] == 0:
                r.done = True
    step.late = int(acc.late.sum())
    run.n_delivered += step.delivered
    run.n_held = int((acc.held & ~acc.late).sum())
    run.n_late += step.late
    if run.status == M.OPEN and not completeness(rows, apids):
        retire(session, site, run, M.COMPLETE, label, run.reason or "", options)
        step.retired_now = True
    return step


def retire(
    session: Session,
    site: Site,
    run: M.HalfpipeRun,
    status: str,
    label: str,
    reason: str,
    options: HalfpipeOptions,
) -> LossEstimate:
    """Retire ``run`` as ``status`` (complete, incomplete, accepted) by step ``label``; return its loss.

    Its revision becomes 1 and its loss (events in the missing datagrams, from the GEM
    sequence; :mod:`fermi_halfpipe.losses`) is counted and recorded now.
    """
    session.flush()
    run.status, run.retired_by, run.reason = status, label, reason
    run.revision = max(int(run.revision or 0), 1)
    est = LossEstimate() if status == M.COMPLETE else loss_estimate(session, site, run.run_id, options)
    run.lost_events = est.events
    return est


def revise_run(
    session: Session, site: Site, run: M.HalfpipeRun, label: str, options: HalfpipeOptions
) -> StepReport:
    """Merge the new datagrams of a retired run into new merged files: its next revision.

    Every delivered span holding an event of a new datagram (and every undelivered GEM range
    holding one) is merged again from all the run's stored datagrams in it, and written as new
    files named for the next revision; the files they replace are marked replaced, not touched.
    Duplicated GEM numbers stay duplicates (kept once). Nothing new of the expected EPUs: no
    revision. A run whose datagrams are now all in hand becomes complete.
    """
    run_id = run.run_id
    step = StepReport()
    dec, pend = load_pending(session, site, run_id)
    if not pend:
        return step
    for r in pend:
        r.done = True
    apids = list(options.epu_apids)
    ev = dec.events
    gem = ev["gem_seq"].astype(np.int64)[np.isin(ev["apid"], apids)]
    spans = delivered_spans(session, run_id)
    k = ivl.member(gem, spans)
    touched = [spans[i] for i in np.unique(k[k >= 0]).tolist()]
    outside = gem[k < 0]
    fresh = [p for p in ivl.subtract([(0, ivl.INF)], spans) if (ivl.member(outside, [p]) >= 0).any()]
    if not touched and not fresh:
        return step
    revision = int(run.revision) + 1
    for lo, hi in touched + fresh:
        row = session.scalar(
            select(M.HalfpipeSpan).where(
                M.HalfpipeSpan.run_id == run_id, M.HalfpipeSpan.lo == lo, M.HalfpipeSpan.hi == hi
            )
        )
        n = _rebuild_span(session, site, run_id, label, lo, hi, revision, options, step)
        if row is None:
            session.add(M.HalfpipeSpan(run_id=run_id, lo=lo, hi=hi, delivery_id=label, n_events=n))
            step.spans.append((lo, hi))
            step.delivered += n
        else:
            step.delivered += n - int(row.n_events)
            row.n_events = n
    run.n_delivered += step.delivered
    run.revision = step.revision = revision
    run.retired_by = label
    session.flush()
    if run.status != M.COMPLETE and not completeness(run_rows(session, run_id), apids):
        run.status = M.COMPLETE
        run.reason = f"complete at revision {revision} (data of {label}); before: {run.reason}"
    run.lost_events = 0 if run.status == M.COMPLETE else loss_estimate(session, site, run_id, options).events
    return step


def _rebuild_span(
    session: Session,
    site: Site,
    run_id: int,
    label: str,
    lo: int,
    hi: int,
    revision: int,
    options: HalfpipeOptions,
    step: StepReport,
) -> int:
    """Write the files of GEM span ``[lo, hi]`` of revision ``revision``; return its event count."""
    session.execute(
        update(M.HalfpipeFile)
        .where(
            M.HalfpipeFile.run_id == run_id,
            M.HalfpipeFile.replaced_in == 0,
            M.HalfpipeFile.first_gem >= lo,
            M.HalfpipeFile.last_gem <= hi,
        )
        .values(replaced_in=revision)
    )
    dec, rows = load_in_range(session, site, run_id, lo, hi)
    ev = dec.events
    gem = ev["gem_seq"].astype(np.int64)
    inside = (gem >= lo) & (gem <= hi)
    apids = list(options.epu_apids)
    a_sel = np.flatnonzero(inside & (ev["apid"] == apids[0]))
    b_sel = np.flatnonzero(inside & (ev["apid"] == apids[1]))
    out, dup = merge_order(ev["gem_seq"], a_sel, b_sel)
    step.duplicate_events += dup
    seq = np.array([r.seq for r in rows], dtype=np.int64)
    for start in range(0, out.size, options.max_events):
        part = out[start : start + options.max_events]
        step.files.append(write_file(session, site, run_id, label, dec, part, seq, options, revision))
    return int(out.size)


def _record_held(
    session: Session,
    run_id: int,
    pend: list[M.HalfpipeDatagram],
    dec: DecodedDatagrams,
    gem: np.ndarray,
    held: np.ndarray,
    late: np.ndarray,
) -> None:
    """Replace the run's held-back rows; add this step's late rows (one per kind, APID, store file)."""
    ev = dec.events
    session.execute(
        delete(M.HalfpipeHeld).where(M.HalfpipeHeld.run_id == run_id, M.HalfpipeHeld.kind == "held")
    )
    # group at datagram level, then map events to groups
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


def write_file(
    session: Session,
    site: Site,
    run_id: int,
    label: str,
    dec: DecodedDatagrams,
    part: np.ndarray,
    seq_of_dgm: np.ndarray,
    options: HalfpipeOptions,
    revision: int = 1,
) -> MergedFileEntry:
    """Write the events ``part`` (in merged order) as one merged file of run revision ``revision``."""
    ev = dec.events
    records, out_off = gather_records(dec.buffer, ev["offset"][part], ev["length"][part])
    cols = {k: v[part] for k, v in ev.items() if k not in ("offset", "length", "datagram")}
    (a0, c0), (_, c1) = options.epu_apids.items()
    cols["epu"] = np.where(cols["apid"] == a0, c0, c1)
    cols["datagram_seq"] = seq_of_dgm[ev["datagram"][part]]
    batch = merged_batch(cols, records, np.r_[out_off, records.size].astype(np.int64), run_id, label)
    first, last = int(ev["gem_seq"][part[0]]), int(ev["gem_seq"][part[-1]])
    path = site.run_dir(run_id) / merged_file_name(run_id, first, revision)
    sha = write_merged(path, batch)
    entry = MergedFileEntry(site.relative(path), sha, first, last, int(part.size))
    session.add(
        M.HalfpipeFile(
            run_id=run_id,
            delivery_id=label,
            first_gem=first,
            last_gem=last,
            n_events=entry.n_events,
            path=entry.path,
            sha256=sha,
            revision=revision,
            replaced_in=0,
        )
    )
    return entry
