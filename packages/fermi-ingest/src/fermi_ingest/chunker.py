"""Cut a delivery into at most 20 chunks on datagram boundaries, one run per chunk when possible.

Works on the accepted packets of a whole delivery (all files, as columns). Datagrams are found
from the CCSDS sequence flags (a datagram also ends at a break of the sequence count); the run
of a datagram is read from bytes 8–11 of its first packet's payload (``docs/formats/telemetry.md``
§4.2) without decoding anything else. Packets of non-event APIDs (spacecraft records) go with
the chunk covering their time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fermi_ingest.ccsds.constants import SEQ_FIRST, SEQ_LAST, SEQ_MODULUS, SEQ_UNSEGMENTED

MAX_CHUNKS = 20
TARGET_CHUNKS = 12
#: Smallest chunk worth a decoding job, bytes (small deliveries get fewer chunks).
DEFAULT_MIN_CHUNK_BYTES = 8 << 20
RUN_UNKNOWN = -1


@dataclass
class DeliveryPackets:
    """Accepted packets of a delivery as columns (arrival order: files in manifest order)."""

    file_index: np.ndarray
    offset: np.ndarray
    length: np.ndarray
    apid: np.ndarray
    seq_flags: np.ndarray
    seq_count: np.ndarray
    time: np.ndarray
    run_word: np.ndarray  # bytes 8-11 of the payload as >u4, or -1 where the payload is shorter

    def __len__(self) -> int:
        return int(self.offset.shape[0])


@dataclass
class ChunkPlan:
    """One chunk: packets (indices into :class:`DeliveryPackets`) and summary."""

    number: int
    run_id: int | None
    packets: np.ndarray
    n_datagrams: int
    met_start: float
    met_stop: float
    apids: tuple[int, ...]


def find_datagrams(pk: DeliveryPackets, event_apids: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Return (datagram id per packet, −1 for non-event APIDs; run id per datagram).

    Datagram ids are dense 0..m−1, numbered in first-packet arrival order.
    """
    n = len(pk)
    dgm = np.full(n, -1, dtype=np.int64)
    is_event = np.isin(pk.apid, event_apids)
    idx = np.flatnonzero(is_event)
    if idx.size == 0:
        return dgm, np.empty(0, dtype=np.int64)
    order = idx[np.lexsort((idx, pk.apid[idx]))]  # per APID, arrival order
    apid = pk.apid[order]
    flags = pk.seq_flags[order]
    seq = pk.seq_count[order]
    new = np.ones(order.size, dtype=bool)
    same_apid = apid[1:] == apid[:-1]
    starts_here = np.isin(flags[1:], (SEQ_FIRST, SEQ_UNSEGMENTED))
    prev_ended = np.isin(flags[:-1], (SEQ_LAST, SEQ_UNSEGMENTED))
    broken = (seq[1:] - seq[:-1]) % SEQ_MODULUS != 1
    new[1:] = ~same_apid | starts_here | prev_ended | broken
    local = np.cumsum(new) - 1
    first_pkt = order[new]
    # renumber datagrams by the arrival index of their first packet
    rank = np.empty(first_pkt.size, dtype=np.int64)
    rank[np.argsort(first_pkt, kind="stable")] = np.arange(first_pkt.size)
    dgm[order] = rank[local]
    runs = np.full(first_pkt.size, RUN_UNKNOWN, dtype=np.int64)
    opens = np.isin(pk.seq_flags[first_pkt], (SEQ_FIRST, SEQ_UNSEGMENTED)) & (pk.run_word[first_pkt] >= 0)
    runs[rank[opens]] = pk.run_word[first_pkt[opens]]
    # fragments without their first packet inherit the run of their APID's neighbour datagram
    dgm_apid = np.empty(first_pkt.size, dtype=np.int64)
    dgm_apid[rank] = pk.apid[first_pkt]
    for a in np.unique(dgm_apid):
        ids = np.flatnonzero(dgm_apid == a)
        r = runs[ids]
        known = np.flatnonzero(r != RUN_UNKNOWN)
        if known.size:
            nearest = known[np.clip(np.searchsorted(known, np.arange(ids.size), side="right") - 1, 0, None)]
            nearest = np.where(np.arange(ids.size) < known[0], known[0], nearest)
            runs[ids] = r[nearest]
    return dgm, runs


def _allocate(sizes: np.ndarray, k: int, max_chunks: int) -> np.ndarray:
    """Chunks per run: proportional to size, at least one each, at most ``max_chunks`` in total."""
    share = np.maximum(1, np.round(k * sizes / max(sizes.sum(), 1)).astype(np.int64))
    while share.sum() > max_chunks and share.max() > 1:
        share[np.argmax(np.where(share > 1, share, 0))] -= 1
    return share


def plan_chunks(
    pk: DeliveryPackets,
    event_apids: tuple[int, ...],
    min_chunk_bytes: int = DEFAULT_MIN_CHUNK_BYTES,
    target_chunks: int = TARGET_CHUNKS,
    max_chunks: int = MAX_CHUNKS,
) -> list[ChunkPlan]:
    """Cut the delivery into chunks (see module docstring); every packet is in exactly one chunk."""
    if not 1 <= target_chunks <= max_chunks:
        raise ValueError(f"parameter 'target_chunks': {target_chunks} not in [1, {max_chunks}]")
    n = len(pk)
    if n == 0:
        return []
    dgm, runs = find_datagrams(pk, event_apids)
    m = runs.size
    groups: list[np.ndarray] = []  # datagram ids of each chunk
    if m:
        dgm_bytes = np.bincount(dgm[dgm >= 0], weights=pk.length[dgm >= 0], minlength=m)
        total = float(dgm_bytes.sum())
        k = int(np.clip(np.ceil(total / max(min_chunk_bytes, 1)), 1, target_chunks))
        run_ids = np.unique(runs)
        if run_ids.size > max_chunks:  # too many runs: consecutive runs share chunks
            bounds = np.array_split(run_ids, max_chunks)
            run_sets = [b for b in bounds if b.size]
        else:
            run_sets = [np.array([r]) for r in run_ids]
        sizes = np.array([dgm_bytes[np.isin(runs, s)].sum() for s in run_sets])
        share = _allocate(sizes, max(k, len(run_sets)), max_chunks)
        for s, parts in zip(run_sets, share, strict=True):
            ids = np.flatnonzero(np.isin(runs, s))  # already in arrival order
            cum = np.cumsum(dgm_bytes[ids])
            cut = np.searchsorted(cum, cum[-1] * np.arange(1, parts) / parts, side="left") + 1
            groups.extend(g for g in np.split(ids, np.unique(cut)) if g.size)
    chunk_of_dgm = np.empty(m, dtype=np.int64)
    for c, g in enumerate(groups):
        chunk_of_dgm[g] = c
    chunk = np.full(n, -1, dtype=np.int64)
    chunk[dgm >= 0] = chunk_of_dgm[dgm[dgm >= 0]]
    other = np.flatnonzero(dgm < 0)
    if not groups:
        chunk[:] = 0
        groups = [np.empty(0, dtype=np.int64)]
    elif other.size:
        t0 = np.array([pk.time[chunk == c].min() for c in range(len(groups))])
        t1 = np.array([pk.time[chunk == c].max() for c in range(len(groups))])
        t = pk.time[other]
        # the chunk whose time range is nearest (0 when inside)
        dist = np.maximum(t0[None, :] - t[:, None], 0) + np.maximum(t[:, None] - t1[None, :], 0)
        chunk[other] = np.argmin(dist, axis=1)
    plans = []
    for c, g in enumerate(groups):
        members = np.flatnonzero(chunk == c)
        run_set = np.unique(runs[g]) if g.size else np.array([], dtype=np.int64)
        run_id = int(run_set[0]) if run_set.size == 1 and run_set[0] != RUN_UNKNOWN else None
        plans.append(
            ChunkPlan(
                number=0,
                run_id=run_id,
                packets=members,
                n_datagrams=int(g.size),
                met_start=float(pk.time[members].min()),
                met_stop=float(pk.time[members].max()),
                apids=tuple(int(a) for a in np.unique(pk.apid[members])),
            )
        )
    plans.sort(key=lambda p: (p.met_start, p.run_id if p.run_id is not None else -1))
    for i, p in enumerate(plans, start=1):
        p.number = i
    return plans


def byte_ranges(pk: DeliveryPackets, packets: np.ndarray) -> list[tuple[int, int, int]]:
    """Merge packets into ``(file index, start, end)`` byte ranges, in file then offset order."""
    packets = np.asarray(packets, dtype=np.int64)
    if packets.size == 0:
        return []
    order = packets[np.lexsort((pk.offset[packets], pk.file_index[packets]))]
    f, o, ln = pk.file_index[order], pk.offset[order], pk.length[order]
    brk = np.ones(order.size, dtype=bool)
    brk[1:] = (f[1:] != f[:-1]) | (o[1:] != o[:-1] + ln[:-1])
    starts = np.flatnonzero(brk)
    ends = np.append(starts[1:], order.size) - 1
    return [(int(f[s]), int(o[s]), int(o[e] + ln[e])) for s, e in zip(starts, ends, strict=True)]
