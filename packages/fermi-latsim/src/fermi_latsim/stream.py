"""Streaming output of a simulation: datagrams, packets, deliveries and truth written as they come.

Peak memory does not grow with the simulated span: each EPU's stream is cut into datagrams as
its events arrive (:class:`EpuStream`, only the datagram still open is held), packets leave in
time order as soon as no later-simulated packet can precede them (:class:`PacketMerger`), go to
the delivery files (:class:`DeliveryWriter`, one file of ``MAX_PACKETS_PER_FILE`` at a time), and
truth rows go to the Parquet file once their datagram is closed (:class:`TruthWriter`).

The bytes are those of cutting each run's streams at once and sorting every packet of the span
by time (stable, spacecraft packets first, then each run's EPU0 and EPU1 packets):
``tests/test_stream.py`` checks it against :func:`fermi_latsim.simulate.write_deliveries`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from fermi_core.mission.packets import APID_EPU0, SEQ_MODULUS
from fermi_halfpipe.datagram import DatagramContext, datagrams_to_packets, encode_datagram
from fermi_halfpipe.format import (
    CLOSE_CONTINUE,
    CLOSE_STOP,
    NOMINAL_TICKS_PER_SECOND,
    OPEN_CONTINUE,
    OPEN_START,
)
from fermi_ingest.ccsds import PacketColumns, concatenate, encode_packets
from fermi_ingest.ccsds.constants import HEADER_LENGTH, MAX_PAYLOAD
from fermi_ingest.ccsds.encode import HEADER_DTYPE
from fermi_ingest.manifest import write_manifest
from fermi_l1.instrument import conversion_type
from fermi_latsim import _kernels, events
from fermi_sciencetools_shim.time import met_to_utc_iso


def packet_time(cols: PacketColumns) -> np.ndarray:
    """MET of each packet (seconds + microseconds of its secondary header)."""
    return np.asarray(cols.sec, np.float64) + np.asarray(cols.usec, np.float64) * 1e-6


def packet_bytes(cols: PacketColumns) -> np.ndarray:
    """The bytes of :func:`fermi_ingest.ccsds.encode_packets` (which builds and checks the
    headers, here without payload), the payloads copied in by
    :func:`fermi_latsim._kernels.interleave_packets` instead of a per-byte index."""
    plen = np.asarray(cols.payload_length, np.int64)
    if plen.size and int(plen.max()) > MAX_PAYLOAD:
        i = int(np.argmax(plen))
        raise ValueError(
            f"parameter 'payload_length': value {plen[i]} at index {i} outside [0, {MAX_PAYLOAD}]"
        )
    payload = np.ascontiguousarray(cols.payload, np.uint8).reshape(-1)
    if int(plen.sum()) != payload.size:
        raise ValueError(
            f"parameter 'payload': {payload.size} bytes but payload_length sums to {int(plen.sum())}"
        )
    heads = encode_packets(replace(cols, payload=payload[:0], payload_length=np.zeros_like(plen)))
    h = heads.view(HEADER_DTYPE)
    h["data_length"] = h["data_length"] + plen  # data_length counts the payload
    return _kernels.interleave_packets(heads.reshape(-1, HEADER_LENGTH), payload, plen)


def delivery_of(cuts: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Delivery (position) holding a datagram dated ``t``: -1 outside the ``cuts``."""
    k = np.searchsorted(cuts, t, side="right") - 1
    return np.where((k >= 0) & (k < cuts.size - 1), k, -1).astype(np.int64)


def _empty_packets() -> PacketColumns:
    z = np.zeros(0, np.int64)
    return PacketColumns(apid=z, seq_flags=z, seq_count=z, sec=z, usec=z, payload=np.zeros(0, np.uint8),
                         payload_length=z)  # fmt: skip


class EpuStream:
    """One EPU's event stream of one run, cut into datagrams as its events arrive.

    Cutting is greedy (:func:`fermi_latsim._kernels.cut_datagrams`), so every datagram but the
    last of what has arrived is final; the last stays open until more events come or the run
    ends. Datagram times are their closing time (the last event + 1 ms; the run's stop for the
    last datagram of the run).
    """

    def __init__(
        self, ctx: DatagramContext, policy: events.DatagramPolicy, stop_met: float, first_count: int
    ) -> None:
        self.ctx, self.policy, self.stop_met = ctx, policy, stop_met
        self.apid = APID_EPU0 + ctx.crate
        self.count = first_count  # sequence count of the next packet
        self.next_datagram = 0
        self.open_reason = events.REASON_OPERATOR
        self.records = np.zeros(0, np.uint8)
        self.lengths = np.zeros(0, np.int64)
        self.met = np.zeros(0)
        self.index = np.zeros(0, np.int64)  # run-level event numbers (GEM sequence)

    @property
    def earliest_open(self) -> float:
        """Time of the first event of the open datagram (+inf if none)."""
        return float(self.met[0]) if self.met.size else np.inf

    def push(
        self, records: np.ndarray, lengths: np.ndarray, met: np.ndarray, index: np.ndarray, last: bool = False
    ) -> tuple[PacketColumns, np.ndarray, np.ndarray, np.ndarray]:
        """Add events (in time order); return the packets of the datagrams closed, and for their
        events: run-level event numbers, datagram numbers and datagram times. ``last``: the run ends."""
        self.records = np.concatenate([self.records, records])
        self.lengths = np.concatenate([self.lengths, lengths])
        self.met = np.concatenate([self.met, met])
        self.index = np.concatenate([self.index, index])
        first, stop, reason = _kernels.cut_datagrams(
            self.lengths,
            self.met,
            events.MAX_DATAGRAM,
            self.ctx.header_length,
            self.policy.max_events,
            self.policy.max_open_s,
        )
        n_close = first.size if last else first.size - 1
        ends = np.concatenate([[0], np.cumsum(self.lengths)])
        dgms, times = [], np.empty(n_close)
        for d in range(n_close):
            a, b = int(first[d]), int(stop[d])
            final = last and d == n_close - 1
            r = int(reason[d])
            dgms.append(
                encode_datagram(
                    self.ctx,
                    self.next_datagram,
                    self.records[ends[a] : ends[b]].tobytes(),
                    b - a,
                    open_action=OPEN_START if self.next_datagram == 0 else OPEN_CONTINUE,
                    close_action=CLOSE_STOP if final else CLOSE_CONTINUE,
                    open_reason=self.open_reason,
                    close_reason=events.REASON_OPERATOR if final else r,
                )
            )
            times[d] = self.stop_met if final else (self.met[b - 1] if b > a else self.stop_met) + 1e-3
            self.open_reason = r if r != _kernels.NO_REASON else events.REASON_OPERATOR
            self.next_datagram += 1
        done = int(stop[n_close - 1]) if n_close else 0
        number = np.repeat(
            self.next_datagram - n_close + np.arange(n_close, dtype=np.int64),
            stop[:n_close] - first[:n_close],
        )
        ev_time = np.repeat(times, stop[:n_close] - first[:n_close])
        ev_index = self.index[:done]
        self.records = self.records[ends[done] :].copy()
        self.lengths, self.met, self.index = self.lengths[done:], self.met[done:], self.index[done:]
        if not dgms:
            return _empty_packets(), ev_index, number, ev_time
        sec = np.floor(times).astype(np.int64)
        usec = np.clip(np.rint((times - sec) * 1e6), 0, 999_999).astype(np.int64)
        cols = datagrams_to_packets(self.apid, dgms, sec=sec, usec=usec, first_count=self.count)
        self.count = (self.count + len(cols)) % SEQ_MODULUS
        return cols, ev_index, number, ev_time


class DeliveryWriter:
    """Writes packets (arriving in time order) into the deliveries cut at ``cuts``.

    Delivery ``k`` holds the packets with ``cuts[k] <= t < cuts[k + 1]`` (the first and last
    take what falls before or after), in files of at most ``max_per_file`` packets (one empty
    file if none) written as the packets come, each delivery with its manifest, ids ``YYMMDDNNN`` from the UTC day of its end.
    """

    def __init__(self, out: Path, cuts: np.ndarray, stop: float, max_per_file: int) -> None:
        self.root = Path(out) / "deliveries"
        self.root.mkdir(parents=True, exist_ok=True)
        self.cuts, self.stop, self.max_per_file = cuts, stop, max_per_file
        self.n_del = cuts.size - 1
        utc = met_to_utc_iso(cuts[1:] - 1e-3, 0)
        serial: dict[str, int] = {}
        self.ids = []
        for k in range(self.n_del):
            day = str(utc[k])[2:10].replace("-", "")
            serial[day] = serial.get(day, 0) + 1
            self.ids.append(f"{day}{serial[day]:03d}")
        self.rows: list[dict] = []
        self.k = -1
        self._open(0)

    def _open(self, k: int) -> None:
        self.k = k
        self.dir = self.root / self.ids[k]
        self.dir.mkdir(parents=True, exist_ok=True)
        for old in self.dir.iterdir():
            old.unlink()
        self.names: list[str] = []
        self.fh = None
        self.in_file = 0
        self.apid_counts: dict[int, int] = {}
        self.n_packets = 0

    def _append(self, data: np.ndarray, size: np.ndarray) -> None:
        """Append encoded packets to the open file, opening the next one when it is full (files
        are written as packets come: memory does not depend on the file size)."""
        ends = np.cumsum(size)
        done = 0
        while done < size.size or self.fh is None:
            if self.fh is None or self.in_file == self.max_per_file:
                if self.fh is not None:
                    self.fh.close()
                name = f"{self.ids[self.k]}_{len(self.names):03d}.pkt"
                self.fh = open(self.dir / name, "wb")
                self.names.append(name)
                self.in_file = 0
            m = min(self.max_per_file - self.in_file, size.size - done)
            if m == 0:
                break
            lo = int(ends[done - 1]) if done else 0
            self.fh.write(memoryview(data[lo : int(ends[done + m - 1])]))
            self.in_file += m
            done += m

    def _close(self) -> None:
        if self.fh is None:  # no packet: one empty file
            self._append(np.zeros(0, np.uint8), np.zeros(0, np.int64))
        assert self.fh is not None
        self.fh.close()
        self.fh = None
        write_manifest(self.dir, self.ids[self.k], self.names)
        self.rows.append(
            {
                "delivery_id": self.ids[self.k],
                "start": float(self.cuts[self.k]),
                "stop": float(min(self.cuts[self.k + 1], self.stop)),
                "packets": self.n_packets,
                "files": self.names,
                "packets_per_apid": {str(a): self.apid_counts[a] for a in sorted(self.apid_counts)},
            }
        )

    def add_encoded(self, data: np.ndarray, size: np.ndarray, time: np.ndarray, apid: np.ndarray) -> None:
        """Append encoded packets (bytes back to back, their sizes, times and APIDs), in time
        order, none earlier than the packets added before."""
        if not size.size:
            return
        which = np.clip(np.searchsorted(self.cuts, time, side="right") - 1, 0, self.n_del - 1)
        ends = np.concatenate([[0], np.cumsum(size)])
        bounds = np.flatnonzero(np.diff(which)) + 1  # time order: each delivery is a slice
        for a, b in zip(np.concatenate([[0], bounds]), np.concatenate([bounds, [size.size]]), strict=True):
            k = int(which[a])
            if k < self.k:
                raise ValueError(f"packets out of time order: delivery {k} after {self.k}")
            while self.k < k:
                self._close()
                self._open(self.k + 1)
            self._append(data[ends[a] : ends[b]], size[a:b])
            self.n_packets += int(b - a)
            apids, counts = np.unique(apid[a:b], return_counts=True)
            for x, c in zip(apids.tolist(), counts.tolist(), strict=True):
                self.apid_counts[x] = self.apid_counts.get(x, 0) + c

    def finish(self) -> list[dict]:
        """Close the open delivery and the empty ones after it; return the summary rows."""
        while True:
            self._close()
            if self.k == self.n_del - 1:
                return self.rows
            self._open(self.k + 1)


class PacketMerger:
    """Sends packets to a writer in the order of a stable sort by time of all the span's packets
    (spacecraft first, then each run's EPU0 then EPU1 packets), as soon as no packet still to
    come can precede them.

    A :class:`DeliveryWriter` gets them encoded (each part encoded once, the release order
    gathered in one copy); any other writer gets :class:`PacketColumns` (``writer.add``).
    """

    def __init__(self, writer: object, spacecraft: PacketColumns) -> None:
        self.writer = writer
        self.encoded = isinstance(writer, DeliveryWriter)
        self.sc = spacecraft
        self.sc_time = packet_time(spacecraft)
        if np.any(np.diff(self.sc_time) < 0):
            raise ValueError("spacecraft packets must be in time order")
        self.sc_next = 0
        self.parts: list[dict] = []
        self.ranks: dict[tuple[int, int], tuple[int, int]] = {}  # source -> (rank, packets so far)

    def _part(self, cols: PacketColumns, time: np.ndarray, rank: np.ndarray, pos: np.ndarray) -> dict:
        part = {"time": time, "rank": rank, "pos": pos, "apid": np.asarray(cols.apid, np.int64)}
        if self.encoded:
            part.update(
                data=packet_bytes(cols), size=np.asarray(cols.payload_length, np.int64) + HEADER_LENGTH
            )
        else:
            part["cols"] = cols
        return part

    def add(self, source: tuple[int, int], cols: PacketColumns) -> None:
        """Packets of ``source`` = (run number in the span, EPU), in their order."""
        if not len(cols):
            return
        rank, seen = self.ranks.get(source, (1 + 2 * source[0] + source[1], 0))
        self.ranks[source] = (rank, seen + len(cols))
        pos = seen + np.arange(len(cols), dtype=np.int64)
        self.parts.append(self._part(cols, packet_time(cols), np.full(len(cols), rank, np.int64), pos))

    def release(self, watermark: float) -> None:
        """Write every packet earlier than ``watermark`` (no packet to come is earlier)."""
        hi = int(np.searchsorted(self.sc_time, watermark, side="left"))
        if hi > self.sc_next:
            idx = np.arange(self.sc_next, hi, dtype=np.int64)
            self.parts.append(
                self._part(self.sc.take(idx), self.sc_time[idx], np.zeros(idx.size, np.int64), idx)
            )
            self.sc_next = hi
        if not self.parts:
            return
        t, rank, pos, apid = (
            np.concatenate([p[k] for p in self.parts]) for k in ("time", "rank", "pos", "apid")
        )
        order = np.lexsort((pos, rank, t))
        ready = order[t[order] < watermark]
        later = np.sort(order[t[order] >= watermark])
        rest: dict = {"time": t[later], "rank": rank[later], "pos": pos[later], "apid": apid[later]}
        if self.encoded:
            data = np.concatenate([p["data"] for p in self.parts])
            size = np.concatenate([p["size"] for p in self.parts])
            if ready.size:
                self.writer.add_encoded(  # type: ignore[attr-defined]
                    _kernels.gather_records(data, size, ready), size[ready], t[ready], apid[ready]
                )
            rest.update(data=_kernels.gather_records(data, size, later), size=size[later])
        else:
            cols = concatenate([p["cols"] for p in self.parts])
            if ready.size:
                self.writer.add(cols.take(ready))  # type: ignore[attr-defined]
            rest["cols"] = cols.take(later)
        self.parts = [rest] if later.size else []


class TruthWriter:
    """Writes truth rows in run order to ``truth/events.parquet`` once their datagram is known.

    With ``keep`` the rows are kept in :attr:`tables` instead (for the writer with faults).
    """

    def __init__(self, out: Path, cuts: np.ndarray, keep: bool = False) -> None:
        self.path = Path(out) / "truth" / "events.parquet"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            self.path.unlink()
        self.cuts, self.keep = cuts, keep
        self.tables: list[pa.Table] = []
        self.pq: pq.ParquetWriter | None = None
        self.pending: dict[str, np.ndarray] = {}
        self.events = 0

    def add(self, cols: dict[str, np.ndarray]) -> None:
        """Rows of the next events of the run (``datagram``/``datagram_time`` still unknown)."""
        n = next(iter(cols.values())).size
        cols = {**cols, "datagram": np.full(n, -1, np.int64), "datagram_time": np.full(n, np.nan)}
        self.pending = (
            {k: np.concatenate([self.pending[k], v]) for k, v in cols.items()} if self.pending else cols
        )

    def closed(self, index: np.ndarray, number: np.ndarray, time: np.ndarray) -> None:
        """Events ``index`` (run-level numbers) are in datagrams ``number`` dated ``time``."""
        if not index.size:
            return
        at = np.searchsorted(self.pending["gem_seq"], index)
        self.pending["datagram"][at] = number
        self.pending["datagram_time"][at] = time

    def flush(self, run: int, final: bool = False) -> None:
        """Write the rows whose datagram is known (all of them at the end of a run)."""
        if not self.pending:
            return
        known = self.pending["datagram"] >= 0
        m = known.size if final else int(np.argmin(known)) if not known.all() else known.size
        if final and not known.all():
            raise RuntimeError(f"run {run}: {int((~known).sum())} events left without a datagram")
        if m == 0:
            return
        rows = {k: v[:m] for k, v in self.pending.items()}
        self.pending = {k: v[m:] for k, v in self.pending.items()} if m < known.size else {}
        table = _truth_table(run, rows, delivery_of(self.cuts, rows["datagram_time"]))
        if self.keep:
            self.tables.append(table)
        elif self.pq is None:
            # no dictionary pages: 4x faster to write these mostly unique columns, same table
            self.pq = pq.ParquetWriter(self.path, table.schema, use_dictionary=False)
        if self.pq is not None:
            self.pq.write_table(table)
        self.events += m

    def close(self) -> int:
        """Close the file (none if there was no event); return the number of rows."""
        if self.pq is not None:
            self.pq.close()
        return self.events


def _truth_table(run: int, c: dict[str, np.ndarray], delivery: np.ndarray) -> pa.Table:
    n = c["gem_seq"].size
    epu = c["epu"].astype(np.int64)
    plane = c["conversion_plane"].astype(np.int16)
    return pa.table(
        {
            "run": np.full(n, run, np.int64),
            "gem_seq": c["gem_seq"],
            "epu": epu.astype(np.int8),
            "apid": (APID_EPU0 + epu).astype(np.int16),
            "time": c["met"],
            "datagram_time": c["datagram_time"],
            "datagram": c["datagram"],
            "conversion_plane": plane,
            "conversion_type": conversion_type(plane),
            "cal_energy_mev": c["cal_energy_mev"],
            "component": c["component"].astype(np.int16),
            "particle": c["particle"].astype(np.int16),
            "energy_mev": c["energy_mev"],
            "ra": c["ra"],
            "dec": c["dec"],
            "theta": c["theta"],
            "livetime_s": c["livetime_ticks"] / NOMINAL_TICKS_PER_SECOND,
            "delivery": delivery,
        }
    )
