"""Per-APID continuity of the 14-bit packet sequence count (``docs/formats/telemetry.md`` §7).

Pure numpy on whole arrays. The counter is unwrapped into a monotonic count using the packet
time to tell a long loss from a step backwards; packets that do not advance the unwrapped count
are duplicates (same count, same time) or out of order, and are set aside; gaps are the jumps of
the accepted packets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fermi_ingest.ccsds.constants import SEQ_MODULUS

ACCEPTED = 0
DUPLICATE = 1
OUT_OF_ORDER = 2
REJECT_REASONS = {DUPLICATE: "duplicate", OUT_OF_ORDER: "out of order"}

#: Default largest time step (s) between consecutive packets of one APID before a time gap is reported.
DEFAULT_MAX_TIME_STEP = 60.0


@dataclass
class GapRecord:
    """A discontinuity between packet ``before`` and packet ``after`` (indices into the stream).

    Index ``-1`` is the ``previous`` packet given to :func:`analyse_stream`, ``n`` the ``following``.
    """

    kind: str
    before: int
    after: int
    missing: int
    seq_before: int
    seq_after: int
    met_before: float
    met_after: float


@dataclass
class StreamReport:
    """Result of :func:`analyse_stream`: per-packet status and the gaps of the accepted packets."""

    status: np.ndarray  # ACCEPTED, DUPLICATE or OUT_OF_ORDER per packet
    gaps: list[GapRecord]

    @property
    def accepted(self) -> np.ndarray:
        """Boolean mask of accepted packets."""
        return self.status == ACCEPTED


def unwrap_steps(seq: np.ndarray, time: np.ndarray) -> np.ndarray:
    """Return the signed step of the unwrapped counter between consecutive packets.

    ``delta = (seq[i+1] - seq[i]) mod 16384``: a step forward of ``delta`` if ``1 ≤ delta ≤ 8192``
    or if the time does not go backwards; else a step backwards of ``16384 − delta``. The same count
    at the same time is a step of 0 (a duplicate); the same count later in time is a full wrap.
    """
    seq = np.asarray(seq, dtype=np.int64)
    time = np.asarray(time, dtype=np.float64)
    delta = np.diff(seq) % SEQ_MODULUS
    dt = np.diff(time)
    step = np.where((delta <= SEQ_MODULUS // 2) | (dt >= 0), delta, delta - SEQ_MODULUS)
    return np.where((delta == 0) & (dt > 0), SEQ_MODULUS, step)


def analyse_stream(
    seq: np.ndarray,
    time: np.ndarray,
    previous: tuple[int, float] | None = None,
    following: tuple[int, float] | None = None,
    max_time_step: float = DEFAULT_MAX_TIME_STEP,
) -> StreamReport:
    """Classify the packets of one APID (in arrival order) and find the gaps.

    Parameters
    ----------
    seq, time
        Sequence counts and times (MET s) of the packets, in arrival order.
    previous
        ``(seq, time)`` of the packet known to precede the stream (e.g. from an earlier delivery).
    following
        ``(seq, time)`` of the packet known to follow it (when this stream fills an older gap).
    max_time_step
        A step of more than this many seconds between accepted packets is a time gap.
    """
    seq = np.asarray(seq, dtype=np.int64)
    time = np.asarray(time, dtype=np.float64)
    n = seq.size
    all_seq = np.concatenate([[previous[0]] if previous else [], seq, [following[0]] if following else []])
    all_time = np.concatenate([[previous[1]] if previous else [], time, [following[1]] if following else []])
    all_seq = all_seq.astype(np.int64)
    first = 1 if previous else 0
    status = np.full(n, ACCEPTED, dtype=np.int8)
    gaps: list[GapRecord] = []
    if all_seq.size == 0:
        return StreamReport(status, gaps)
    unwrapped = np.concatenate([[0], np.cumsum(unwrap_steps(all_seq, all_time))])
    best_before = np.maximum.accumulate(np.concatenate([[np.iinfo(np.int64).min], unwrapped[:-1]]))
    advance = unwrapped > best_before
    advance[0] = True
    same = (unwrapped == best_before) & ~advance
    own = slice(first, first + n)
    status[same[own]] = DUPLICATE
    status[~advance[own] & ~same[own]] = OUT_OF_ORDER
    keep = np.flatnonzero(advance)
    if following and not advance[-1]:
        keep = np.append(keep, all_seq.size - 1)  # the following packet is a fixed point: always compare
    jumps = np.diff(unwrapped[keep])
    dts = np.diff(all_time[keep])
    for j in np.flatnonzero((jumps != 1) | (dts > max_time_step)):
        a, b = int(keep[j]), int(keep[j + 1])
        kind = "sequence" if jumps[j] != 1 else "time"
        gaps.append(
            GapRecord(
                kind=kind,
                before=a - first,
                after=b - first,
                missing=max(int(jumps[j]) - 1, 0) if kind == "sequence" else 0,
                seq_before=int(all_seq[a]),
                seq_after=int(all_seq[b]),
                met_before=float(all_time[a]),
                met_after=float(all_time[b]),
            )
        )
    return StreamReport(status, gaps)
