"""The completeness rules of the halfpipe, as pure functions on plain arrays (no database, no files).

Everything here takes numpy arrays, interval lists and mappings and returns new ones; the
database and the datagram store are one layer up (:mod:`fermi_halfpipe.store`,
:mod:`fermi_halfpipe.release`). The rules (``docs/formats/telemetry.md`` §1.10):

* **Segments**: a sorted datagram sequence splits into contiguous segments (:func:`segments`).
* **EPU rule**: a run's event datagrams come from exactly the two expected EPUs, each on its
  own APID (:func:`epu_violation`).
* **Duplicates**: a datagram sequence number seen before (stored, or earlier in the same
  delivery) is a duplicate; the first copy is kept, a copy with different bytes is a conflict
  (:func:`first_copies`).
* **Coverage**: per EPU, each segment covers the GEM range of its events, extended to the run
  start when it opens with datagram 0 and action start, and to the run end when it closes with
  stop, abort or pause (:func:`coverage`). Events are mergeable where the coverages of *both*
  EPUs overlap: nothing of either EPU can still arrive there (:func:`deliverable_spans`).
* **Completeness**: a run is complete when, for every expected EPU, its datagrams form one
  segment from datagram 0 (open action start) to a close action stop, abort or pause
  (:func:`completeness` lists what is missing).
* **Deadline** (:func:`decide_at_deadline`): an open run is due once
  ``deadline_deliveries`` later deliveries were merged without bringing it data, or
  ``deadline_hours`` of wall time passed since its last data arrived, whichever comes first. A due
  run whose data come from fewer than the two expected EPUs breaks the exactly-two-EPU rule and
  is rejected; any other due run is completed with its loss counted
  (``docs/lifecycle/completion-policy.md``).
* **Held and late** (:func:`account_events`): an event is *delivered* once its GEM number lies in
  a delivered span; an event not in any delivered span is *held back* (kept in the store, merged
  by a later delivery). An event is **late** when it arrives in a datagram first stored by this
  merge step but its GEM number lies in a span delivered by an earlier step: its place in the
  merged stream is already written, so it is counted (per step, and summed over the run) and
  never merged — nothing is merged twice. This is the one meaning of "late" in every report.

The type of a run's stored datagrams is :data:`DatagramRows`: a mapping of column name to a
numpy array, one element per stored datagram, sorted by (APID, unrolled sequence number), with
at least the columns ``apid``, ``seq``, ``open_action``, ``close_action``, ``first_gem`` and
``last_gem`` (``-1`` when the datagram has no event).
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from fermi_halfpipe import intervals as ivl
from fermi_halfpipe.format import OPEN_START, RUN_END_ACTIONS
from fermi_halfpipe.options import HalfpipeOptions

#: A run's stored datagrams as columns (see the module docstring).
DatagramRows = Mapping[str, np.ndarray]


def segments(seq: np.ndarray) -> list[tuple[int, int]]:
    """Index ranges ``[s, e]`` of the contiguous runs of a sorted datagram sequence."""
    seq = np.asarray(seq)
    if seq.size == 0:
        return []
    brk = np.flatnonzero(np.diff(seq) != 1)
    starts = np.r_[0, brk + 1]
    ends = np.r_[brk, seq.size - 1]
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def coverage(rows: DatagramRows, apid: int) -> ivl.Intervals:
    """GEM-sequence ranges in which every event of EPU ``apid`` is in hand (module docstring)."""
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


def completeness(rows: DatagramRows, apids: Sequence[int]) -> list[str]:
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


def epu_violation(apids: np.ndarray, crates: np.ndarray, epu_apids: Mapping[int, int]) -> str | None:
    """Why the event datagrams (their APIDs and crates) break the EPU rule; None when they do not.

    Parameters
    ----------
    apids, crates
        APID and crate number of each event datagram of a run in one delivery.
    epu_apids
        The expected EPU set, APID -> crate.
    """
    apids, crates = np.asarray(apids), np.asarray(crates)
    extra = sorted(set(apids.tolist()) - set(epu_apids))
    if extra:
        bad = sorted(set(crates[np.isin(apids, extra)].tolist()))
        return (
            f"event datagrams from APID(s) {extra} (crate {bad}), outside the expected EPU set "
            f"{ {a: f'EPU{c}' for a, c in epu_apids.items()} }: a run must come from exactly these two EPUs"
        )
    for apid, crate in epu_apids.items():
        wrong = sorted(set(crates[apids == apid].tolist()) - {crate})
        if wrong:
            return f"APID {apid} carries datagrams of crate {wrong}, expected EPU{crate}"
    return None


@dataclass(frozen=True)
class Copies:
    """Which datagrams of one EPU in a delivery are first copies (:func:`first_copies`).

    Attributes
    ----------
    first
        True for a datagram whose sequence number was never seen before (stored, or earlier in
        this delivery): it is stored. False for a duplicate.
    conflicts
        Indices of the duplicates whose bytes differ from the copy seen first.
    """

    first: np.ndarray
    conflicts: list[int]

    @property
    def n_duplicates(self) -> int:
        """Number of duplicates."""
        return int(np.count_nonzero(~self.first))


def first_copies(seq: Sequence[int], sha256: Sequence[str], known: Mapping[int, str]) -> Copies:
    """Tell first copies from duplicates among datagrams ``seq`` (in arrival order).

    ``known`` maps the sequence numbers already stored for this EPU to their SHA-256.
    """
    seq = [int(s) for s in seq]
    first = np.ones(len(seq), dtype=bool)
    conflicts: list[int] = []
    seen: dict[int, str] = {}
    for k, s in enumerate(seq):
        prior = known.get(s, seen.get(s))
        if prior is not None:
            first[k] = False
            if prior != sha256[k]:
                conflicts.append(k)
        else:
            seen[s] = sha256[k]
    return Copies(first, conflicts)


def deliverable_spans(
    rows: DatagramRows, apids: Sequence[int], delivered: ivl.Intervals, force: bool = False
) -> ivl.Intervals:
    """New GEM spans that can be merged now: both EPUs' coverage minus what was delivered.

    With ``force`` (an operator gives the run up) everything not yet delivered is deliverable.
    """
    a, b = apids
    mergeable = [(0, ivl.INF)] if force else ivl.intersect(coverage(rows, a), coverage(rows, b))
    return ivl.subtract(mergeable, delivered)


@dataclass(frozen=True)
class EventAccount:
    """Where each event of a run's undelivered datagrams goes in one merge step.

    Attributes
    ----------
    span
        Index into the step's new spans of the span holding the event, -1 if none.
    held
        Not in any delivered span (old or new): kept back for a later step.
    late
        Late (module docstring): in a datagram new in this step, inside a span delivered earlier.
    """

    span: np.ndarray
    held: np.ndarray
    late: np.ndarray


def account_events(
    gem: np.ndarray, is_new: np.ndarray, delivered: ivl.Intervals, new_spans: ivl.Intervals
) -> EventAccount:
    """Sort the events (GEM numbers, whether their datagram is new) into merged, held and late."""
    in_old = ivl.member(gem, delivered) >= 0
    span = ivl.member(gem, new_spans)
    held = ~(ivl.member(gem, ivl.normalise(delivered + new_spans)) >= 0)
    return EventAccount(span=span, held=held, late=is_new & in_old)


def first_of_each_gem(sorted_gem: np.ndarray) -> np.ndarray:
    """Mask keeping the first of equal GEM numbers in a sorted stream of one EPU."""
    return np.r_[True, np.diff(sorted_gem) != 0] if sorted_gem.size else np.empty(0, bool)


def event_gaps(spans: ivl.Intervals) -> list[list[int]]:
    """GEM ranges ``[lo, hi]`` between delivered spans (events not delivered, or never sent)."""
    spans = ivl.normalise(spans)
    return [[hi + 1, lo - 1] for (_, hi), (lo, _) in itertools.pairwise(spans) if lo > hi + 1]


#: Actions of :func:`decide_at_deadline`.
WAIT, COMPLETE_AT_DEADLINE, REJECT_AT_DEADLINE = "wait", "complete", "reject"


@dataclass(frozen=True)
class RunFacts:
    """What the deadline of an open run depends on.

    Attributes
    ----------
    last_data_utc
        Wall time (UTC, aware) its last new datagrams were merged; None if unknown (a run of an
        older database): then only deliveries count.
    deliveries_without_data
        Deliveries merged since then that brought it no new datagram.
    event_apids
        APIDs of its stored event datagrams.
    """

    last_data_utc: datetime | None
    deliveries_without_data: int
    event_apids: Collection[int]


@dataclass(frozen=True)
class Decision:
    """What the completion policy does with an open run now (:func:`decide_at_deadline`).

    Attributes
    ----------
    action
        :data:`WAIT` (held), :data:`COMPLETE_AT_DEADLINE` or :data:`REJECT_AT_DEADLINE`.
    deadline_utc
        When the wall-time deadline falls (None without a last-data time).
    deliveries_left
        Deliveries without data still allowed before the run is due (0 when due).
    why
        Why the run is due (empty while it waits).
    reason
        For a rejection: which rule is broken.
    """

    action: str
    deadline_utc: datetime | None
    deliveries_left: int
    why: str = ""
    reason: str = ""


def wall_deadline(last_data_utc: datetime | None, options: HalfpipeOptions) -> datetime | None:
    """The wall-time deadline of a run whose last data arrived at ``last_data_utc``."""
    return None if last_data_utc is None else last_data_utc + timedelta(hours=options.deadline_hours)


def epu_rule_at_deadline(event_apids: Collection[int], epu_apids: Mapping[int, int]) -> str | None:
    """Why a run with event datagrams on ``event_apids`` breaks the exactly-two-EPU rule, or None."""
    present = sorted(set(int(a) for a in event_apids) & set(epu_apids))
    absent = sorted(set(epu_apids) - set(present))
    if not absent:
        return None
    names = ", ".join(f"APID {a} (EPU{epu_apids[a]})" for a in absent)
    have = ", ".join(f"APID {a} (EPU{epu_apids[a]})" for a in present) or "none"
    return (
        f"no event datagram from {names} by the deadline (data from: {have}): a run must come from "
        "exactly the two expected EPUs"
    )


def decide_at_deadline(facts: RunFacts, options: HalfpipeOptions, now: datetime) -> Decision:
    """Apply the completion policy (module docstring) to an open run at wall time ``now`` (UTC)."""
    at = wall_deadline(facts.last_data_utc, options)
    left = max(options.deadline_deliveries - int(facts.deliveries_without_data), 0)
    whys = []
    if left == 0:
        whys.append(
            f"{int(facts.deliveries_without_data)} later deliveries brought no data "
            f"(deadline: {options.deadline_deliveries})"
        )
    if at is not None and now >= at:
        whys.append(
            f"no data for {(now - facts.last_data_utc).total_seconds() / 3600:.1f} h "
            f"(deadline: {options.deadline_hours:g} h)"
        )
    if not whys:
        return Decision(WAIT, at, left)
    why = "; ".join(whys)
    broken = epu_rule_at_deadline(facts.event_apids, options.epu_apids)
    if broken is not None:
        return Decision(REJECT_AT_DEADLINE, at, 0, why, broken)
    return Decision(COMPLETE_AT_DEADLINE, at, 0, why)
