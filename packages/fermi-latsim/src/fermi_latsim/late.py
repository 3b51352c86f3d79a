"""Late-data faults: packets of one delivery that arrive with a later one.

:func:`late_block` picks the packets the ``late-packets-*`` faults move: a block of consecutive
whole datagrams of EPU0 (APID 956) from the middle of the first delivery, all of one run, with
datagrams of that run on both sides, so that removing it opens a sequence gap and a datagram
gap in that EPU's stream inside the first delivery. :func:`place_late` puts the block into the
delivery plan (own delivery after the third one, or at the start, middle or end of a file of
the third delivery, or as an extra file of it; with fewer than three deliveries, the last).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fermi_core.mission.packets import APID_EPU0
from fermi_ingest.ccsds import PacketColumns
from fermi_ingest.datagram_header import RUN_OFFSET

#: fault name -> where its block goes
LATE_PLACEMENTS = {
    "late-packets-own-delivery": "own-delivery",
    "late-packets-start": "start",
    "late-packets-middle": "middle",
    "late-packets-end": "end",
    "late-packets-extra-file": "extra-file",
}
#: the delivery (0-based) that receives the block, when there are that many
TARGET_DELIVERY = 2


@dataclass
class DeliveryPlan:
    """What one delivery holds: its packet files as index arrays into the packet columns.

    ``source`` is the delivery's index among the time-cut deliveries, ``None`` for a delivery
    made only of late packets (``late``).
    """

    source: int | None
    files: list[np.ndarray]
    late: bool = False
    late_packets: int = 0
    notes: dict = field(default_factory=dict)

    @property
    def packets(self) -> np.ndarray:
        """All packet indices of the delivery, in file order."""
        return np.concatenate(self.files) if self.files else np.empty(0, np.int64)


def _run_words(cols: PacketColumns, index: np.ndarray) -> np.ndarray:
    """Bytes ``RUN_OFFSET..+3`` of the payloads of packets ``index`` as big-endian u4 (−1 if short)."""
    start = cols.payload_start[index]
    plen = np.asarray(cols.payload_length, np.int64)[index]
    out = np.full(index.size, -1, np.int64)
    ok = plen >= RUN_OFFSET + 4
    payload = np.asarray(cols.payload, np.uint8)
    pos = start[ok] + RUN_OFFSET
    b = [payload[pos + k].astype(np.int64) for k in range(4)]
    out[ok] = (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]
    return out


def late_block(cols: PacketColumns, delivery: np.ndarray, n_datagrams: int = 0) -> np.ndarray:
    """Indices (into ``cols``) of the block of EPU0 packets to deliver late, in arrival order.

    Parameters
    ----------
    cols
        All packets, sorted by time.
    delivery
        Indices of the packets of the first delivery, in arrival order.
    n_datagrams
        Datagrams in the block; 0 chooses 5 % of the delivery's EPU0 datagrams (3 to 20).

    Returns
    -------
    numpy.ndarray
        Whole consecutive datagrams of one run, with a datagram of that run before and after
        it in the delivery; empty when the delivery has fewer than three such datagrams.
    """
    apid = np.asarray(cols.apid)[delivery]
    ep = delivery[apid == APID_EPU0]
    starts = np.flatnonzero(np.isin(np.asarray(cols.seq_flags)[ep], (1, 3)))
    if starts.size < 3:
        return np.empty(0, np.int64)
    runs = _run_words(cols, ep[starts])
    m = starts.size // 2
    k = n_datagrams or int(np.clip(starts.size // 20, 3, 20))
    lo = m
    while lo > 1 and runs[lo - 1] == runs[m] and m - lo < k // 2:
        lo -= 1
    hi = lo
    while hi + 1 < starts.size - 1 and runs[hi + 1] == runs[m] and hi - lo + 1 < k:
        hi += 1
    if runs[lo - 1] != runs[m] or runs[hi + 1] != runs[m]:
        return np.empty(0, np.int64)
    return ep[starts[lo] : starts[hi + 1]]


def place_late(plans: list[DeliveryPlan], block: np.ndarray, placement: str, max_per_file: int) -> int:
    """Put ``block`` into ``plans`` at ``placement`` (a value of :data:`LATE_PLACEMENTS`).

    The receiving delivery is the third (or the last, with fewer). Returns the position in
    ``plans`` of the delivery that holds the block.
    """
    target = min(TARGET_DELIVERY, len(plans) - 1)
    plan = plans[target]
    if placement == "own-delivery":
        plans.insert(target + 1, DeliveryPlan(None, [block], late=True, late_packets=int(block.size)))
        return target + 1
    plan.late_packets += int(block.size)
    if placement == "extra-file":
        plan.files.append(block)
        return target
    idx = plan.packets
    if placement == "start":
        idx = np.concatenate([block, idx])
    elif placement == "end":
        idx = np.concatenate([idx, block])
    elif placement == "middle":
        at = min(idx.size, max_per_file) // 2
        idx = np.concatenate([idx[:at], block, idx[at:]])
    else:
        raise ValueError(
            f"late placement {placement!r}: unknown (known: {', '.join(LATE_PLACEMENTS.values())})"
        )
    plan.files = split_files(idx, max_per_file)
    return target


def split_files(idx: np.ndarray, max_per_file: int) -> list[np.ndarray]:
    """Cut a delivery's packets into files of at most ``max_per_file`` (one empty file if none)."""
    return [idx[lo : lo + max_per_file] for lo in range(0, max(idx.size, 1), max_per_file)]
