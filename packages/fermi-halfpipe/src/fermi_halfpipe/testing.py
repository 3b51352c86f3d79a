"""Helpers for tests of the halfpipe and of its users: cut synthetic runs into deliveries, read outputs back."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fermi_halfpipe.outputs import read_merged
from fermi_halfpipe.stitch import merge_packets
from fermi_halfpipe.synthetic import SyntheticRun
from fermi_ingest.ccsds.constants import SEQ_FIRST, SEQ_UNSEGMENTED
from fermi_ingest.ccsds.encode import PacketColumns, concatenate
from fermi_ingest.published import AcceptedPackets


def epu_packets(run: SyntheticRun, apid: int) -> PacketColumns:
    """All packets of one EPU of the run, counts from 0."""
    return run.packets(apid)


def datagram_packets(run: SyntheticRun, apid: int, datagrams) -> PacketColumns:
    """Packets of the given datagram indices of one EPU (sequence counts as in the whole stream)."""
    cols = run.packets(apid)
    dgm_of = np.cumsum(np.isin(cols.seq_flags, (SEQ_FIRST, SEQ_UNSEGMENTED))) - 1
    return cols.take(np.flatnonzero(np.isin(dgm_of, np.asarray(list(datagrams), dtype=np.int64))))


def events_of(run: SyntheticRun, apid: int, datagrams) -> int:
    """Number of events in the given datagrams of one EPU."""
    return sum(int.from_bytes(run.datagrams[apid][d][28:32], "big") for d in datagrams)


def part(cols: PacketColumns, start: int, stop: int) -> PacketColumns:
    """Packets ``start:stop`` of a packet stream."""
    return cols.take(np.arange(start, stop))


def deliver(delivery_id: str, parts: list[PacketColumns]) -> dict:
    """Merge one delivery made of the given packet parts (in that arrival order)."""
    parts = [p for p in parts if len(p)]
    if parts:
        cols = concatenate(parts)
    else:
        e = np.empty(0, np.int64)
        cols = PacketColumns(e, e, e, e, e, np.empty(0, np.uint8), e)
    return merge_packets(delivery_id, AcceptedPackets.from_columns(cols, f"{delivery_id}/f_000.pkt"))


def merged_outputs(home: Path, summaries: list[dict]) -> tuple[np.ndarray, list[bytes]]:
    """GEM sequences and records of every merged file listed in the reports, in GEM order.

    ``summaries`` are delivery summaries, ``{"runs": [report]}`` wrappers of force-complete
    reports, or lists of status reports; each file is read once.
    """
    by_path = {f["path"]: f for s in summaries for r in s["runs"] for f in r["files"]}
    files = sorted(by_path.values(), key=lambda f: f["first_gem"])
    seq, recs = [], []
    for f in files:
        m = read_merged(home / f["path"], sha256=f["sha256"])
        seq.append(m.columns["gem_seq"])
        recs.extend(m.record(i) for i in range(len(m)))
    return (np.concatenate(seq) if seq else np.empty(0, np.uint64)), recs
