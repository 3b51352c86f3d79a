"""How many events the missing datagrams of a run held, as far as the GEM sequence tells.

A datagram that never arrived (dropped packets, bytes quarantined by the ingest, a datagram cut
and never completed) leaves a *hole* in one EPU's datagram sequence. Its events are gone, but
their GEM sequence numbers are not: the GEM numbers every trigger of the run, whichever EPU
takes it, so the numbers between the last event before the hole and the first event after it
(same EPU) that the *other* EPU did not send are the events of the hole.

The estimate, per run:

* For each EPU, every hole of its datagram sequence (run start missing, a gap, run end missing)
  gets the GEM range ``(lo, hi)`` between the nearest received datagrams with events on both
  sides. Before the first datagram the range starts at the run's first GEM number (the smallest
  one seen when both EPUs' start datagrams are in hand, else 0: the sequence restarts at each
  run start); after the last one it ends at the highest GEM number seen in the run.
* Events in a hole = GEM numbers of its range × the *downlink fraction* − the events received
  there (from the other EPU) − the events the decoder could not read in received datagrams whose
  unread tail lies there (already reported as problems with ``events_lost``).
* The downlink fraction is measured on the rest of the run (everything outside the holes, where
  both EPUs are complete): events received / GEM numbers. It is 1 when every GEM number reaches
  the ground (format version 1 as fermi-latsim writes it) and the count is then **exact**. An
  on-board filter that drops triggers (the real LAT; the halfpipe's synthetic runs) makes it
  smaller and the count an estimate (its error grows like the square root of the hole's size).
* The run total counts each GEM number once, even where holes of both EPUs overlap (then the
  per-hole counts share numbers and say so: ``shared``).

Limits: events *after* the highest GEM number seen (the end of the run of an EPU whose last
datagrams are missing, or a run still going on) cannot be counted: such a hole is ``open_end``
and the run total is a lower bound. An EPU with no datagram at all is one open hole over the
whole run. A GEM number repeated by both EPUs (a fault, reported as duplicate events) is counted
twice as received. Missing datagrams of an open run may still arrive: they are "not received",
not necessarily lost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from fermi_halfpipe import intervals as ivl
from fermi_halfpipe.format import OPEN_START, RUN_END_ACTIONS

#: Columns of the run's datagram rows used here (as :func:`fermi_halfpipe.store.run_rows`).
ROW_COLUMNS = ("id", "apid", "seq", "open_action", "close_action", "first_gem", "last_gem", "n_events",
               "n_decoded")  # fmt: skip


@dataclass(frozen=True)
class Hole:
    """Missing datagrams of one EPU and the events they held.

    ``last_datagram`` is None when the hole runs to the end of the run (datagrams not counted);
    ``gem`` is the inclusive GEM range the hole's events lie in (``gem[0] > gem[1]``: empty).
    """

    apid: int
    first_datagram: int
    last_datagram: int | None
    gem: tuple[int, int]
    events: int
    open_end: bool
    shared: bool = False

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "apid": self.apid,
            "datagrams": [self.first_datagram, self.last_datagram],
            "gem": list(self.gem),
            "events": self.events,
            "open_end": self.open_end,
            "shared": self.shared,
        }


@dataclass(frozen=True)
class LossEstimate:
    """Events in a run's missing datagrams (:attr:`events`) and how far the number can be trusted."""

    events: int = 0
    exact: bool = True
    lower_bound: bool = False
    downlink_fraction: float = 1.0
    decoder_lost: int = 0
    holes: list[Hole] = field(default_factory=list)

    def as_dict(self) -> dict:
        """JSON-ready form (keys of the run entries of the status and the delivery summary)."""
        return {
            "lost_in_missing": self.events,
            "lost_exact": self.exact,
            "lost_lower_bound": self.lower_bound,
            "downlink_fraction": round(self.downlink_fraction, 6),
            "lost_in_malformed": self.decoder_lost,
            "holes": [h.as_dict() for h in self.holes],
        }


def describe_total(run: dict) -> str:
    """The run's count as an operator reads it: ``N``, ``about N`` or ``at least N``."""
    n = run.get("lost_in_missing", 0)
    if run.get("lost_lower_bound"):
        return f"at least {n}"
    return f"{n}" if run.get("lost_exact", True) else f"about {n}"


def describe_hole(hole: dict, exact: bool = True) -> str:
    """One line for a hole (the ``as_dict`` form); ``exact``: the run's count is exact."""
    first, last = hole["datagrams"]
    where = f"datagrams {first}-{last}" if last is not None else f"datagrams from {first} to the run end"
    lo, hi = hole["gem"]
    gem = f"GEM {lo}-{hi}" if lo <= hi else "no GEM number"
    n = (
        f"at least {hole['events']}"
        if hole["open_end"]
        else f"{hole['events']}"
        if exact
        else f"about {hole['events']}"
    )
    shared = " (GEM range shared with a hole of the other EPU)" if hole["shared"] else ""
    return f"APID {hole['apid']} {where}: {gem}, {n} events{shared}"


def _raw_holes(rows: dict[str, np.ndarray], apid: int, base: int, gmax: int):
    """(first datagram, last datagram or None, lo, hi, open end) of each hole of one EPU."""
    sel = np.flatnonzero(rows["apid"] == apid)
    seq = rows["seq"][sel]
    has = rows["n_decoded"][sel] > 0
    g0, g1 = rows["first_gem"][sel], rows["last_gem"][sel]
    if seq.size == 0:
        return [(0, None, base - 1, gmax + 1, True)]

    def before(k: int) -> int:  # last GEM of the nearest datagram at or before index k with events
        w = np.flatnonzero(has[: k + 1])
        return int(g1[w[-1]]) if w.size else base - 1

    def after(k: int) -> tuple[int, bool]:
        w = np.flatnonzero(has[k:])
        return (int(g0[k + w[0]]), False) if w.size else (gmax + 1, True)

    out = []
    if seq[0] > 0:
        hi, open_end = after(0)
        out.append((0, int(seq[0]) - 1, base - 1, hi, open_end))
    for k in np.flatnonzero(np.diff(seq) > 1).tolist():
        hi, open_end = after(k + 1)
        out.append((int(seq[k]) + 1, int(seq[k + 1]) - 1, before(k), hi, open_end))
    if rows["close_action"][sel][-1] not in RUN_END_ACTIONS:
        out.append((int(seq[-1]) + 1, None, before(seq.size - 1), gmax + 1, True))
    return out


def estimate_losses(
    rows: dict[str, np.ndarray],
    apids: Sequence[int],
    gem_values: Callable[[int], np.ndarray],
) -> LossEstimate:
    """Estimate the events held by the missing datagrams of one run (module docstring).

    Parameters
    ----------
    rows
        The run's stored datagrams, columns :data:`ROW_COLUMNS`, sorted by APID then sequence.
    apids
        The expected EPU set (APIDs).
    gem_values
        ``gem_values(row id)`` returns the GEM numbers of the events of that stored datagram;
        called only for the few datagrams that straddle a hole's GEM range.
    """
    n_dec = rows["n_decoded"].astype(np.int64)
    has = n_dec > 0
    tails = np.maximum(rows["n_events"].astype(np.int64) - n_dec, 0)
    decoder_lost = int(tails.sum())
    gmax = int(rows["last_gem"][has].max()) if has.any() else -1
    starts_known = has.any() and all(
        ((rows["apid"] == a) & (rows["seq"] == 0) & (rows["open_action"] == OPEN_START)).any() for a in apids
    )
    base = int(rows["first_gem"][has].min()) if starts_known else 0

    raw = [(int(a), *h) for a in apids for h in _raw_holes(rows, int(a), base, gmax)]
    ranges = [(lo + 1, hi - 1) for _, _, _, lo, hi, _ in raw]
    union = ivl.normalise([r for r in ranges if r[0] <= r[1]])

    # where the unread tail of a partly decoded datagram lies: just after its last decoded event
    tail_at = np.full(tails.size, base, np.int64)
    for a in apids:
        sel = np.flatnonzero(rows["apid"] == a)
        last = np.maximum.accumulate(np.where(has[sel], rows["last_gem"][sel], base - 1))
        tail_at[sel] = last + 1

    def seen(iv: ivl.Intervals) -> int:
        if not iv:
            return 0
        g0, g1 = rows["first_gem"][has], rows["last_gem"][has]
        k0, k1 = ivl.member(g0, iv), ivl.member(g1, iv)
        n = int(n_dec[has][(k0 >= 0) & (k0 == k1)].sum())
        for j in np.flatnonzero(~((k0 >= 0) & (k0 == k1))).tolist():
            if ivl.subtract([(int(g0[j]), int(g1[j]))], iv) != [(int(g0[j]), int(g1[j]))]:
                n += int((ivl.member(gem_values(int(rows["id"][has][j])), iv) >= 0).sum())
        return n

    def tails_in(iv: ivl.Intervals) -> int:
        return int(tails[ivl.member(tail_at, iv) >= 0].sum()) if iv else 0

    width = sum(hi - lo + 1 for lo, hi in union)
    seen_u, tails_u = seen(union), tails_in(union)
    outside = (gmax - base + 1) - width
    got_outside = int(n_dec.sum()) - seen_u + decoder_lost - tails_u
    fraction = min(got_outside / outside, 1.0) if outside > 0 else 1.0
    full = got_outside >= outside

    def count(w: int, s: int, t: int) -> int:
        return max(0, (w if full else round(fraction * w)) - s - t)

    holes = []
    for k, (apid, first, last, _, _, open_end) in enumerate(raw):
        r = ranges[k]
        iv = [r] if r[0] <= r[1] else []
        others = [ranges[j] for j in range(len(raw)) if raw[j][0] != apid]
        shared = bool(iv) and bool(ivl.intersect(iv, [o for o in others if o[0] <= o[1]]))
        w = r[1] - r[0] + 1 if iv else 0
        holes.append(Hole(apid, first, last, r, count(w, seen(iv), tails_in(iv)), open_end, shared))
    lower = any(h.open_end for h in holes)
    return LossEstimate(
        count(width, seen_u, tails_u), full and not lower, lower, fraction, decoder_lost, holes
    )
