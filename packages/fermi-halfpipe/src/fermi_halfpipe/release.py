"""Delivery of a run's mergeable events into merged files, and the held/late bookkeeping it leaves.

One call of :func:`deliver_run` is one merge step of one run: the rules of
:mod:`fermi_halfpipe.rules` say which GEM spans are new and which events are held or late (one
pass over the run's undelivered datagrams, batch by batch); the events of the new spans are
merged GEM window by GEM window (each window read from the store) by GEM sequence
(:func:`fermi_halfpipe.merge.merge_streams`, the numba kernel) and their records gathered
(:func:`fermi_halfpipe.datagram.gather_records`) into merged files (split at ``max_events``)
under :meth:`fermi_core.site.Site.run_dir`; spans, files and held/late groups are recorded, and
the run's counters and status updated. Memory: a window of ``piece_bytes`` plus one merged file.

A run already retired (complete, incomplete or accepted) never gets "late" events: new datagrams
of such a run are merged into *new* merged files of each span they fall in (built from every
stored datagram of that span), named for the run's next revision and written beside the files
they replace, which stay on disk unchanged (:func:`revise_run`). :func:`retire` is the one place
a run is retired (revision 1, its loss counted).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from fermi_core.site import Site
from fermi_halfpipe import intervals as ivl
from fermi_halfpipe import models as M
from fermi_halfpipe.datagram import gather_records
from fermi_halfpipe.losses import LossEstimate
from fermi_halfpipe.merge import merge_streams
from fermi_halfpipe.options import HalfpipeOptions
from fermi_halfpipe.outputs import merged_batch, merged_file_name, write_merged
from fermi_halfpipe.report import MergedFileEntry, StepReport, loss_estimate
from fermi_halfpipe.rules import account_events, completeness, deliverable_spans, first_of_each_gem
from fermi_halfpipe.states import RETIRED
from fermi_halfpipe.store import (
    batches,
    decode_stored,
    delivered_spans,
    pending_rows,
    rows_in_range,
    run_rows,
)


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
    new: Mapping[int, np.ndarray],
    options: HalfpipeOptions,
    force: bool,
) -> StepReport:
    """Merge and write what can be delivered now; update held/late rows, status and counters.

    ``label`` names the step (a delivery id, or the force-complete label); ``new`` maps the
    rows of the datagrams this step stored (their events may be late) to the GEM numbers of
    their events, as the step decoded them; ``force`` delivers every event still held (an
    operator gives the run up).

    The run's undelivered datagrams are read from the store in batches of
    :attr:`~fermi_halfpipe.options.HalfpipeOptions.piece_bytes`: once to account their events
    (:func:`_scan`; the new ones' GEM numbers are in ``new``, only the others are read), then by
    GEM window to merge the new spans (:func:`_merge_span`).
    """
    if run.status in RETIRED:
        return revise_run(session, site, run, label, options)
    run_id = run.run_id
    rows = run_rows(session, run_id)
    apids = list(options.epu_apids)
    old_spans = delivered_spans(session, run_id)
    new_spans = deliverable_spans(rows, apids, old_spans, force) if (force or run.status == M.OPEN) else []
    pend = pending_rows(session, run_id)
    scan = _scan(site, pend, options.piece_bytes, new, old_spans, new_spans)
    step = StepReport(spans=list(new_spans))
    for lo, hi in new_spans:
        n = _merge_span(session, site, run_id, label, pend, scan, lo, hi, options, step)
        session.add(M.HalfpipeSpan(run_id=run_id, lo=lo, hi=hi, delivery_id=label, n_events=n))
        step.delivered += n
    _record_held(session, run_id, scan.groups)
    # datagrams whose events are all delivered (or late) are done
    for d, r in enumerate(pend):
        if scan.open_count[d] == 0:
            r.done = True
    step.late = scan.n_late
    run.n_delivered += step.delivered
    run.n_held = scan.n_held
    run.n_late += step.late
    if run.status == M.OPEN and not completeness(rows, apids):
        retire(session, site, run, M.COMPLETE, label, run.reason or "", options)
        step.retired_now = True
    return step


@dataclass
class _Scan:
    """What one pass over a run's undelivered datagrams found (:func:`_scan`).

    ``gem_min``/``gem_max``: per datagram the smallest and largest GEM number of its events
    (−1 without events); ``open_count``: its events still held back; ``groups``: the held and
    late events per (kind, APID, store file): [first seq, last seq, first GEM, last GEM, events];
    ``touched``: indices of the delivered spans holding one of its events; ``outside``: the GEM
    numbers of its events in no delivered span, as their ranges between delivered spans.
    """

    gem_min: np.ndarray
    gem_max: np.ndarray
    open_count: np.ndarray
    groups: dict[tuple[str, int, str], list[int]] = field(default_factory=dict)
    n_held: int = 0
    n_late: int = 0


def _scan(
    site: Site,
    pend: list[M.HalfpipeDatagram],
    budget: int,
    new: Mapping[int, np.ndarray],
    old_spans: ivl.Intervals,
    new_spans: ivl.Intervals,
) -> _Scan:
    """Account the events of the datagrams ``pend`` (:func:`fermi_halfpipe.rules.account_events`), batch by batch.

    The GEM numbers of the new datagrams' events are those of ``new``; the other datagrams
    (held from earlier steps) are read from the store.
    """
    n = len(pend)
    scan = _Scan(np.full(n, -1, np.int64), np.full(n, -1, np.int64), np.zeros(n, np.int64))
    lengths = np.array([r.length for r in pend], dtype=np.int64)
    is_new = np.array([r.id in new for r in pend], dtype=bool)
    # a new datagram weighs the bytes of its GEM numbers in hand, not its own: nothing to read
    weight = np.where(is_new, 8 * np.array([r.n_events for r in pend], dtype=np.int64), lengths)
    for i, j in batches(weight, budget):
        ev_dgm, gem = _event_gems(site, pend[i:j], new)
        _gem_bounds(scan, i, ev_dgm, gem)
        acc = account_events(gem, is_new[i:j][ev_dgm], old_spans, new_spans)
        still = acc.held & ~acc.late
        scan.open_count[i:j] += np.bincount(ev_dgm[still], minlength=j - i)
        scan.n_held += int(still.sum())
        scan.n_late += int(acc.late.sum())
        for kind, mask in (("held", acc.held), ("late", acc.late)):
            sel = np.flatnonzero(mask)
            if sel.size == 0:
                continue
            d, g = ev_dgm[sel], gem[sel]  # grouped by datagram, in order
            starts = np.flatnonzero(np.r_[True, d[1:] != d[:-1]])
            lows, highs = np.minimum.reduceat(g, starts), np.maximum.reduceat(g, starts)
            counts = np.diff(np.r_[starts, d.size])
            for dd, g0, g1, c in zip(
                d[starts].tolist(), lows.tolist(), highs.tolist(), counts.tolist(), strict=True
            ):
                r = pend[i + dd]
                got = scan.groups.setdefault((kind, int(r.apid), r.store_path), [r.seq, r.seq, g0, g1, 0])
                got[0], got[1] = min(got[0], r.seq), max(got[1], r.seq)
                got[2], got[3], got[4] = min(got[2], g0), max(got[3], g1), got[4] + c
    return scan


def _event_gems(
    site: Site, rows: list[M.HalfpipeDatagram], known: Mapping[int, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """The events of ``rows`` as (datagram index, GEM number), grouped by datagram in order.

    A row in ``known`` gives its GEM numbers; the others are decoded from the store (one read).
    """
    todo = [d for d, r in enumerate(rows) if r.id not in known]
    per: list[np.ndarray] = [known[r.id] if r.id in known else np.empty(0, np.int64) for r in rows]
    if todo:
        ev = decode_stored(site, [rows[d] for d in todo], event_columns=False).events
        counts = np.bincount(ev["datagram"], minlength=len(todo))
        for d, g in zip(todo, np.split(ev["gem_seq"].astype(np.int64), np.cumsum(counts)[:-1]), strict=True):
            per[d] = g
    sizes = np.array([g.size for g in per], dtype=np.int64)
    gem = np.concatenate(per) if per else np.empty(0, np.int64)
    return np.repeat(np.arange(len(rows), dtype=np.int64), sizes), gem.astype(np.int64, copy=False)


def _gem_bounds(scan: _Scan, base: int, ev_dgm: np.ndarray, gem: np.ndarray) -> None:
    """Record each datagram's smallest and largest GEM number (events grouped by datagram, in order)."""
    if ev_dgm.size == 0:
        return
    starts = np.flatnonzero(np.r_[True, ev_dgm[1:] != ev_dgm[:-1]])
    d = base + ev_dgm[starts]
    scan.gem_min[d] = np.minimum.reduceat(gem, starts)
    scan.gem_max[d] = np.maximum.reduceat(gem, starts)


def _bounds_of(site: Site, rows: list[M.HalfpipeDatagram], budget: int) -> _Scan:
    """Only the GEM bounds of the datagrams ``rows`` (a pass over their bytes, batch by batch)."""
    n = len(rows)
    scan = _Scan(np.full(n, -1, np.int64), np.full(n, -1, np.int64), np.zeros(n, np.int64))
    for i, j in batches(np.array([r.length for r in rows], dtype=np.int64), budget):
        dec = decode_stored(site, rows[i:j], event_columns=False)
        _gem_bounds(scan, i, dec.events["datagram"], dec.events["gem_seq"].astype(np.int64))
    return scan


def _windows(lo: int, hi: int, gmin: np.ndarray, lengths: np.ndarray, budget: int) -> list[tuple[int, int]]:
    """GEM windows covering ``[lo, hi]``, each holding about ``budget`` bytes of datagrams starting in it."""
    order = np.argsort(gmin, kind="stable")
    cuts, held = [lo], 0
    for g, n in zip(gmin[order].tolist(), lengths[order].tolist(), strict=True):
        if held >= budget and cuts[-1] < g <= hi:
            cuts.append(g)
            held = 0
        held += n
    return [(a, b - 1) for a, b in itertools.pairwise(cuts)] + [(cuts[-1], hi)]


class _FileParts:
    """Merged events waiting to fill a merged file: their records in one buffer, their columns in parts.

    Each window's records are gathered straight into :attr:`buffer` after the ones before
    (:meth:`gather`), so a file's records are a slice of it, never concatenated. The buffer is
    made for ``capacity`` bytes, an upper bound (the bytes of the datagrams the events come
    from, capped at a file's worth, :func:`_file_capacity`): pages never written cost no memory.
    What a file cut leaves goes to a new buffer of the same capacity.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = max(int(capacity), 0)
        self.buffer = np.empty(self.capacity, dtype=np.uint8)
        self.used = 0
        self.lengths: list[np.ndarray] = []
        self.columns: list[dict[str, np.ndarray]] = []
        self.n = 0

    def gather(
        self, buffer: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, columns: dict[str, np.ndarray]
    ) -> None:
        """Append the records ``offsets``/``lengths`` of ``buffer`` (and their columns) after the ones held."""
        lengths = np.asarray(lengths, dtype=np.int64)
        need = int(lengths.sum())
        if self.used + need > self.buffer.size:  # not reached with an upper-bound capacity; kept safe
            grown = np.empty(max(2 * self.buffer.size, self.used + need), dtype=np.uint8)
            grown[: self.used] = self.buffer[: self.used]
            self.buffer = grown
        gather_records(buffer, offsets, lengths, out=self.buffer[self.used : self.used + need])
        self.used += need
        self.lengths.append(lengths)
        self.columns.append(columns)
        self.n += int(lengths.size)

    def take(self, k: int) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """The first ``k`` events (records, lengths, columns); the rest stay, in a buffer of their own."""
        lengths = np.concatenate(self.lengths) if len(self.lengths) > 1 else self.lengths[0]
        cols = {c: np.concatenate([p[c] for p in self.columns]) for c in self.columns[0]}
        cut = int(lengths[:k].sum())
        records = self.buffer[:cut]
        rest = np.empty(max(self.capacity, self.used - cut), dtype=np.uint8)
        rest[: self.used - cut] = self.buffer[cut : self.used]
        self.buffer, self.used = rest, self.used - cut
        self.lengths, self.columns = [lengths[k:]], [{c: v[k:] for c, v in cols.items()}]
        self.n -= k
        if self.n == 0:
            self.lengths, self.columns = [], []
        return records, lengths[:k], {c: v[:k] for c, v in cols.items()}


def _file_capacity(
    rows: list[M.HalfpipeDatagram], cand: np.ndarray, lengths: np.ndarray, options: HalfpipeOptions
) -> int:
    """Bytes to make room for in a merged file's record buffer: ``max_events`` events and a window.

    At most the bytes of the span's datagrams (no record is longer than its datagram); a file of
    events larger than the span's mean takes the buffer's slower growing path.
    """
    span_bytes = int(lengths[cand].sum())
    events = sum(int(rows[d].n_events) for d in cand.tolist())
    per_event = span_bytes / max(events, 1)
    return min(span_bytes, int(1.25 * options.max_events * per_event) + options.piece_bytes)


def _merge_span(
    session: Session,
    site: Site,
    run_id: int,
    label: str,
    rows: list[M.HalfpipeDatagram],
    bounds: _Scan,
    lo: int,
    hi: int,
    options: HalfpipeOptions,
    step: StepReport,
    revision: int = 1,
) -> int:
    """Merge the events of ``rows`` in GEM span ``[lo, hi]`` into merged files; return their number.

    The span is merged GEM window by GEM window (:func:`_windows`), each from the datagrams
    whose GEM bounds (``bounds``) meet it, read from the store: the windows partition the GEM
    numbers, so the merged stream (and every file of ``max_events``) is the one a single merge
    of the whole span gives. A GEM number repeated within one EPU, or sent by both, is kept
    once (the first, in the order of ``rows``) and counted in ``step.duplicate_events``.
    """
    apids = list(options.epu_apids)
    (a0, c0), (_, c1) = options.epu_apids.items()
    apid = np.array([r.apid for r in rows], dtype=np.int64)
    lengths = np.array([r.length for r in rows], dtype=np.int64)
    seq = np.array([r.seq for r in rows], dtype=np.int64)
    cand = np.flatnonzero(
        np.isin(apid, apids) & (bounds.gem_min >= 0) & (bounds.gem_min <= hi) & (bounds.gem_max >= lo)
    )
    parts, total = _FileParts(_file_capacity(rows, cand, lengths, options)), 0
    for wl, wh in _windows(lo, hi, bounds.gem_min[cand], lengths[cand], options.piece_bytes):
        pick = cand[(bounds.gem_min[cand] <= wh) & (bounds.gem_max[cand] >= wl)]
        if pick.size == 0:
            continue
        dec = decode_stored(site, [rows[d] for d in pick.tolist()])
        ev = dec.events
        gem = ev["gem_seq"].astype(np.int64)
        inside = (gem >= wl) & (gem <= wh)
        a_sel = np.flatnonzero(inside & (ev["apid"] == apids[0]))
        b_sel = np.flatnonzero(inside & (ev["apid"] == apids[1]))
        out, dup = merge_order(ev["gem_seq"], a_sel, b_sel)
        step.duplicate_events += dup
        if out.size == 0:
            continue
        cols = {k: v[out] for k, v in ev.items() if k not in ("offset", "length", "datagram")}
        cols["epu"] = np.where(cols["apid"] == a0, c0, c1)
        cols["datagram_seq"] = seq[pick][ev["datagram"][out]]
        parts.gather(dec.buffer, ev["offset"][out], ev["length"][out], cols)
        total += int(out.size)
        del dec, ev
        while parts.n >= options.max_events:
            step.files.append(
                write_file(session, site, run_id, label, *parts.take(options.max_events), revision)
            )
    if parts.n:
        step.files.append(write_file(session, site, run_id, label, *parts.take(parts.n), revision))
    return total


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
    pend = pending_rows(session, run_id)
    if not pend:
        return step
    for r in pend:
        r.done = True
    apids = list(options.epu_apids)
    spans = delivered_spans(session, run_id)
    gaps = ivl.subtract([(0, ivl.INF)], spans)
    touched_at: set[int] = set()
    fresh_at: set[int] = set()
    for i, j in batches(np.array([r.length for r in pend], dtype=np.int64), options.piece_bytes):
        ev = decode_stored(site, pend[i:j], event_columns=False).events
        epu = np.isin(np.array([r.apid for r in pend[i:j]], dtype=np.int64), apids)[ev["datagram"]]
        gem = ev["gem_seq"].astype(np.int64)[epu]
        k = ivl.member(gem, spans)
        touched_at.update(np.unique(k[k >= 0]).tolist())
        outside = gem[k < 0]
        fresh_at.update(g for g, p in enumerate(gaps) if (ivl.member(outside, [p]) >= 0).any())
    touched = [spans[i] for i in sorted(touched_at)]
    fresh = [gaps[g] for g in sorted(fresh_at)]
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
    rows = rows_in_range(session, run_id, lo, hi)
    return _merge_span(
        session, site, run_id, label, rows, _bounds_of(site, rows, options.piece_bytes), lo, hi, options, step,
        revision,
    )  # fmt: skip


def _record_held(session: Session, run_id: int, groups: dict[tuple[str, int, str], list[int]]) -> None:
    """Replace the run's held-back rows; add this step's late rows (one per kind, APID, store file)."""
    session.execute(
        delete(M.HalfpipeHeld).where(M.HalfpipeHeld.run_id == run_id, M.HalfpipeHeld.kind == "held")
    )
    for kind in ("held", "late"):
        mine = sorted((f"{apid}\t{store}", v) for (k, apid, store), v in groups.items() if k == kind)
        for name, (seq_first, seq_last, first_gem, last_gem, n) in mine:
            apid, store = name.split("\t")
            session.add(
                M.HalfpipeHeld(
                    run_id=run_id,
                    apid=int(apid),
                    kind=kind,
                    store_path=store,
                    seq_first=int(seq_first),
                    seq_last=int(seq_last),
                    first_gem=int(first_gem),
                    last_gem=int(last_gem),
                    n_events=int(n),
                )
            )


def write_file(
    session: Session,
    site: Site,
    run_id: int,
    label: str,
    records: np.ndarray,
    lengths: np.ndarray,
    cols: dict[str, np.ndarray],
    revision: int = 1,
) -> MergedFileEntry:
    """Write events (records back to back, their lengths and columns, in merged order) as one merged file."""
    offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
    batch = merged_batch(cols, records, offsets, run_id, label)
    first, last = int(cols["gem_seq"][0]), int(cols["gem_seq"][-1])
    path = site.run_dir(run_id) / merged_file_name(run_id, first, revision)
    sha = write_merged(path, batch)
    entry = MergedFileEntry(site.relative(path), sha, first, last, int(lengths.size))
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
