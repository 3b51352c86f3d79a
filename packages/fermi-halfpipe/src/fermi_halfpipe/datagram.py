"""Event datagrams (``docs/formats/telemetry.md`` §4): encode, reassemble from packets, decode.

Encoding goes events -> datagram bytes -> CCSDS packets (through the ingest encoder). Decoding
goes packets -> reassembled datagrams (:func:`reassemble`, vectorised on the sequence flags) ->
columnar datagram and event tables (:func:`decode_datagrams`, one numba walk over all datagrams;
header fields are then gathered for all events at once). Nothing is dropped silently: every
datagram that fails a check is listed in :attr:`DecodedDatagrams.problems` with its source,
byte offset and reason, and packets that do not form a whole datagram are returned as fragments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from fermi_halfpipe import _kernels, _reference
from fermi_halfpipe.format import (
    DATAGRAM_HEADER,
    DATAGRAM_HEADER_DTYPE,
    DATAGRAM_IDENTITY,
    DATAGRAM_KEYS,
    DATAGRAM_KEYS_DTYPE,
    EVENT_FIELDS,
    EVENT_HEADER,
    EVENT_HEADER_DTYPE,
    EVENT_IDENTITY,
    FORMAT_VERSION,
    KEY_NAMES,
    KEYS_FORMAT_VERSION,
    MAX_DATAGRAM,
    NOMINAL_TICKS_PER_SECOND,
    TICK_BITS,
    TONE_MISSING_CPU_PPS,
    TONE_MISSING_LAT_PPS,
    UNKNOWN_KEY,
    header_length,
)
from fermi_halfpipe.keys import ConfigKeys
from fermi_ingest.ccsds.constants import SEQ_FIRST, SEQ_LAST, SEQ_MODULUS, SEQ_UNSEGMENTED
from fermi_ingest.ccsds.encode import PacketColumns, segment_datagrams

DATAGRAM_ERRORS = {
    _kernels.DGM_TRUNCATED: "datagram shorter than its header (32 bytes; 48 with configuration keys)",
    _kernels.DGM_BAD_IDENTITY: "bad datagram identity word",
    _kernels.DGM_BAD_LENGTH: "datagram length field differs from the reassembled length",
    _kernels.DGM_BAD_VERSION: "unknown datagram format version",
    _kernels.DGM_BAD_EVENT_IDENTITY: "bad event identity word",
    _kernels.DGM_BAD_EVENT_LENGTH: "impossible event length",
    _kernels.DGM_BAD_CONTRIBUTION: "bad contribution header",
    _kernels.DGM_CONTRIBUTION_COUNT: "number of contributions differs from the event header",
    _kernels.DGM_NO_GEM: "first contribution is not a 68-byte GEM contribution",
    _kernels.DGM_SUMMARY_MISMATCH: "hardware event sequence differs between contributions",
    _kernels.DGM_TRAILING_BYTES: "bytes after the last event",
    _kernels.DGM_BODY_LENGTH: "contribution length disagrees with its hit counts",
}


# --------------------------------------------------------------------------------------------
# encoding
# --------------------------------------------------------------------------------------------


def contribution_header(ctype: int, source: int, length: int, hw_seq: int) -> bytes:
    """Return the 8-byte contribution header (§4.4)."""
    return (
        np.array([ctype, source], dtype="u1").tobytes()
        + np.array([length], dtype=">u2").tobytes()
        + np.array([hw_seq & 0x1FFFF], dtype=">u4").tobytes()
    )


def encode_events(header: np.ndarray, contributions: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Return (record bytes back to back, record lengths) of events.

    Parameters
    ----------
    header
        Structured array of :data:`~fermi_halfpipe.format.EVENT_HEADER_DTYPE`; ``identity``,
        ``length`` and ``n_contributions`` are filled in here when zero.
    contributions
        Per event, the bytes of its contributions back to back (GEM first, §4.4).
    """
    n = header.shape[0]
    if len(contributions) != n:
        raise ValueError(f"parameter 'contributions': {len(contributions)} entries for {n} events")
    h = np.asarray(header, dtype=EVENT_HEADER_DTYPE).copy()
    con_len = np.fromiter((len(c) for c in contributions), dtype=np.int64, count=n)
    if np.any(con_len % 4):
        bad = int(np.flatnonzero(con_len % 4)[0])
        raise ValueError(
            f"parameter 'contributions': event {bad} has {con_len[bad]} bytes, not a multiple of 4"
        )
    h["identity"] = EVENT_IDENTITY
    h["length"] = EVENT_HEADER + con_len
    lengths = (EVENT_HEADER + con_len).astype(np.int64)
    start = np.cumsum(lengths) - lengths
    out = np.empty(int(lengths.sum()), dtype=np.uint8)
    out[(start[:, None] + np.arange(EVENT_HEADER)).reshape(-1)] = h.view(np.uint8)
    body = np.frombuffer(b"".join(contributions), dtype=np.uint8)
    shift = np.repeat(start + EVENT_HEADER - (np.cumsum(con_len) - con_len), con_len)
    out[np.arange(body.size, dtype=np.int64) + shift] = body
    return out, lengths


@dataclass
class DatagramContext:
    """Run-level fields written into every datagram header of one EPU stream.

    With ``keys`` the datagrams are written in format version 2 (the configuration keys follow
    the header, §4.2.1); without, in version 1 (no keys).
    """

    run: int
    crate: int
    ground_id: int = 0x0000BEEF
    mode: int = 0
    mode_changes: int = 0
    platform: int = 0
    origin: int = 0
    keys: ConfigKeys | None = None

    @property
    def version(self) -> int:
        """The datagram format version written (1, or 2 with keys)."""
        return FORMAT_VERSION if self.keys is None else KEYS_FORMAT_VERSION

    @property
    def header_length(self) -> int:
        """Bytes before the first event (32, or 48 with keys)."""
        return header_length(self.version)


def encode_datagram(
    ctx: DatagramContext,
    seq: int,
    records: bytes | np.ndarray,
    n_events: int,
    open_action: int,
    close_action: int,
    open_reason: int = 0,
    close_reason: int = 0,
) -> bytes:
    """Return one datagram: the 32-byte header (§4.2), the key block when ``ctx.keys`` (§4.2.1),
    then ``records`` (``n_events`` events)."""
    body = bytes(np.asarray(records, dtype=np.uint8)) if not isinstance(records, bytes) else records
    head = ctx.header_length
    if head + len(body) > MAX_DATAGRAM:
        raise ValueError(f"datagram {seq}: {head + len(body)} bytes exceed {MAX_DATAGRAM}")
    h = np.zeros(1, dtype=DATAGRAM_HEADER_DTYPE)
    h["identity"] = DATAGRAM_IDENTITY
    h["length"] = head + len(body)
    h["run"] = ctx.run
    h["ground_id"] = ctx.ground_id
    h["mcd"] = (ctx.mode << 28) | ((ctx.mode_changes & 0xFF) << 20) | (seq & 0xFFFFF)
    h["open_action"], h["open_reason"] = open_action, open_reason
    h["close_action"], h["close_reason"] = close_action, close_reason
    h["crate"], h["platform"], h["origin"] = ctx.crate, ctx.platform, ctx.origin
    h["version"] = ctx.version
    h["n_events"] = n_events
    return h.tobytes() + (ctx.keys.block() if ctx.keys is not None else b"") + body


def pack_datagrams(
    ctx: DatagramContext,
    records: np.ndarray,
    lengths: np.ndarray,
    events_per_datagram: int | None = None,
    first_seq: int = 0,
    opens_run: bool = True,
    close_action: int = 0,
) -> list[bytes]:
    """Cut one EPU's event records into datagrams (at most 64 KiB, optionally N events each).

    The first datagram opens with ``start`` when ``opens_run`` (else ``continue``); the last
    closes with ``close_action`` (``stop`` by default; ``continue`` (3) leaves the run open).
    An EPU with no events still sends one (empty) opening/closing datagram.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    cuts = [0]
    while cuts[-1] < lengths.size:
        i = cuts[-1]
        # largest j with records i..j-1 fitting in one datagram
        j = int(np.searchsorted(ends, starts[i] + MAX_DATAGRAM - ctx.header_length, side="right"))
        if events_per_datagram is not None:
            j = min(j, i + events_per_datagram)
        if j <= i:
            raise ValueError(f"event {i}: {lengths[i]} bytes do not fit in one datagram")
        cuts.append(j)
    if len(cuts) == 1:
        cuts.append(0)
    out = []
    last = len(cuts) - 2
    for k in range(len(cuts) - 1):
        i, j = cuts[k], cuts[k + 1]
        body = records[starts[i] : ends[j - 1]] if j > i else np.empty(0, np.uint8)
        out.append(
            encode_datagram(
                ctx,
                first_seq + k,
                body,
                j - i,
                open_action=0 if (k == 0 and opens_run) else 2,
                close_action=close_action if k == last else 3,
                open_reason=0 if k == 0 else 4,
                close_reason=0 if k == last else 4,
            )
        )
    return out


def datagrams_to_packets(
    apid: int, datagrams: Sequence[bytes], sec: object, usec: object = 0, first_count: int = 0
) -> PacketColumns:
    """Segment datagrams of one APID into CCSDS packet columns (sequence flags and counts set)."""
    return segment_datagrams(apid, datagrams, sec=sec, usec=usec, first_count=first_count)


# --------------------------------------------------------------------------------------------
# byte gather
# --------------------------------------------------------------------------------------------


def _kernel_bytes(buffer: np.ndarray) -> np.ndarray:
    """``buffer`` as C-contiguous uint8, read only (a view, no copy when it already is uint8 C).

    Numba types a read-only array apart from a writable one: giving the kernels that only read
    a buffer always the read-only kind compiles them once, not once per kind (issue 18).
    """
    view = np.ascontiguousarray(buffer, dtype=np.uint8).view()
    view.flags.writeable = False
    return view


def gather_records(
    buffer: np.ndarray,
    offsets: np.ndarray,
    lengths: np.ndarray,
    engine: str = "numba",
    out: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Copy the records at ``offsets``/``lengths`` of ``buffer`` back to back, in the order given.

    Every byte gather of the halfpipe goes through here (packet payloads into datagrams, header
    fields, datagrams into the store, event records into merged order): one pass over the bytes
    copied, no per-byte index array.

    ``engine`` is ``"numba"`` (:func:`fermi_halfpipe._kernels.gather_records`) or ``"reference"``
    (its numpy twin). ``out`` (uint8, C-contiguous, exactly ``lengths.sum()`` bytes: a slice of a
    larger buffer, say) receives the records instead of a new array.

    Returns
    -------
    records, out_offsets
        The records (uint8) and the offset of each in ``records``.
    """
    kernels = {"numba": _kernels, "reference": _reference}
    if engine not in kernels:
        raise ValueError(f"parameter 'engine': 'numba' or 'reference', got {engine!r}")
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    lengths = np.ascontiguousarray(lengths, dtype=np.int64)
    need = int(lengths.sum())
    if out is None:
        out = np.empty(need, dtype=np.uint8)
    elif out.dtype != np.uint8 or out.shape != (need,) or not out.flags.c_contiguous:
        raise ValueError(
            f"parameter 'out': expected {need} contiguous uint8 bytes, got {out.dtype} {out.shape}"
        )
    out_off = kernels[engine].gather_records(_kernel_bytes(buffer), offsets, lengths, out)
    return out, out_off


# --------------------------------------------------------------------------------------------
# reassembly
# --------------------------------------------------------------------------------------------


@dataclass
class Fragment:
    """Packets of one APID that do not form a whole datagram (yet): a datagram's head or tail.

    ``first_flag``/``last_flag`` are the sequence flags of its first and last packet; the bytes
    are the concatenated payloads. Fragments are kept and joined with those of other
    deliveries (§1.10 item 7: a datagram straddling a delivery boundary is not lost).
    """

    apid: int
    first_count: int
    last_count: int
    first_flag: int
    last_flag: int
    sec: int
    usec: int
    data: bytes
    source: str = ""
    offset: int = 0

    @property
    def has_head(self) -> bool:
        return self.first_flag in (SEQ_FIRST, SEQ_UNSEGMENTED)

    @property
    def has_tail(self) -> bool:
        return self.last_flag in (SEQ_LAST, SEQ_UNSEGMENTED)


@dataclass
class Reassembled:
    """Whole datagrams (bytes back to back plus per-datagram columns) and leftover fragments."""

    buffer: np.ndarray
    offset: np.ndarray
    length: np.ndarray
    apid: np.ndarray
    sec: np.ndarray
    usec: np.ndarray
    source: list[str]
    source_offset: np.ndarray
    fragments: list[Fragment] = field(default_factory=list)
    #: Per datagram, the index (in the packets given) of its first packet.
    first_packet: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    #: Per fragment, the indices (in the packets given) of its packets, in arrival order.
    fragment_packets: list[np.ndarray] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.offset.shape[0])


def reassemble(
    apid: np.ndarray,
    seq_flags: np.ndarray,
    seq_count: np.ndarray,
    sec: np.ndarray,
    usec: np.ndarray,
    payload: np.ndarray,
    payload_offset: np.ndarray,
    payload_length: np.ndarray,
    source: str | Sequence[str] = "<memory>",
    source_offset: np.ndarray | None = None,
    source_index: np.ndarray | None = None,
) -> Reassembled:
    """Join the packets of each APID into datagrams by their sequence flags and counts.

    Packets are given in arrival order (any APID interleaving). Within one APID a datagram is a
    first packet, continuations and a last packet with consecutive counts, or one unsegmented
    packet. Any other run of packets (head or tail cut off by the delivery boundary, or a lost
    packet in between) is returned as a :class:`Fragment` for the caller to keep.

    ``source`` names the file (one name, or one per file with ``source_index`` giving each
    packet's file); ``source_offset`` is each packet's byte offset in its file (for reports).
    """
    n = int(np.asarray(apid).shape[0])
    apid = np.asarray(apid, dtype=np.int64)
    flags = np.asarray(seq_flags, dtype=np.int64)
    count = np.asarray(seq_count, dtype=np.int64)
    poff = np.asarray(payload_offset, dtype=np.int64)
    plen = np.asarray(payload_length, dtype=np.int64)
    soff = poff if source_offset is None else np.asarray(source_offset, dtype=np.int64)
    names = [source] if isinstance(source, str) else list(source)
    sidx = np.zeros(n, dtype=np.int64) if source_index is None else np.asarray(source_index, dtype=np.int64)
    if n == 0:
        e = np.empty(0, dtype=np.int64)
        return Reassembled(np.empty(0, np.uint8), e, e, e, e, e, [], e, [])
    order = np.lexsort((np.arange(n), apid))  # per APID, arrival order
    a, f, c = apid[order], flags[order], count[order]
    new = np.ones(n, dtype=bool)
    if n > 1:
        new[1:] = (
            (a[1:] != a[:-1])
            | np.isin(f[1:], (SEQ_FIRST, SEQ_UNSEGMENTED))
            | np.isin(f[:-1], (SEQ_LAST, SEQ_UNSEGMENTED))
            | ((c[1:] - c[:-1]) % SEQ_MODULUS != 1)
        )
    group_start = np.flatnonzero(new)
    group_end = np.append(group_start[1:], n) - 1
    head_ok = np.isin(f[group_start], (SEQ_FIRST, SEQ_UNSEGMENTED))
    tail_ok = np.isin(f[group_end], (SEQ_LAST, SEQ_UNSEGMENTED))
    whole = head_ok & tail_ok
    # datagram bytes: gather payloads of whole groups, in order of their first packet's arrival
    gid = np.cumsum(new) - 1
    keep_pk = whole[gid]
    first_pk = order[group_start]
    dgm_rank = np.argsort(first_pk[whole], kind="stable")
    groups = np.flatnonzero(whole)[dgm_rank]
    pk_sorted = order[keep_pk]
    g_of_pk = gid[keep_pk]
    # reorder packets so that datagrams come in arrival order of their first packet
    rank_of_group = np.empty(group_start.size, dtype=np.int64)
    rank_of_group[groups] = np.arange(groups.size)
    pk_order = pk_sorted[np.argsort(rank_of_group[g_of_pk], kind="stable")]
    payload = np.asarray(payload, dtype=np.uint8)
    buffer, _ = gather_records(payload, poff[pk_order], plen[pk_order])
    group_bytes = np.bincount(gid[keep_pk], weights=plen[order][keep_pk], minlength=group_start.size)
    dlen = group_bytes[groups].astype(np.int64)
    doff = np.cumsum(dlen) - dlen
    fp = order[group_start[groups]]
    fragments, fragment_packets = [], []
    for g in np.flatnonzero(~whole):
        pks = order[group_start[g] : group_end[g] + 1]
        fragment_packets.append(pks)
        fragments.append(
            Fragment(
                apid=int(apid[pks[0]]),
                first_count=int(count[pks[0]]),
                last_count=int(count[pks[-1]]),
                first_flag=int(flags[pks[0]]),
                last_flag=int(flags[pks[-1]]),
                sec=int(sec[pks[0]]),
                usec=int(usec[pks[0]]),
                data=b"".join(payload[poff[p] : poff[p] + plen[p]].tobytes() for p in pks),
                source=names[sidx[pks[0]]],
                offset=int(soff[pks[0]]),
            )
        )
    return Reassembled(
        buffer=buffer,
        offset=doff,
        length=dlen,
        apid=apid[fp],
        sec=np.asarray(sec, dtype=np.int64)[fp],
        usec=np.asarray(usec, dtype=np.int64)[fp],
        source=[names[i] for i in sidx[fp]],
        source_offset=soff[fp],
        fragments=fragments,
        first_packet=fp,
        fragment_packets=fragment_packets,
    )


def join_fragments(
    fragments: Sequence[Fragment], max_seconds: float = 600.0
) -> tuple[list[Fragment], list[Fragment]]:
    """Join fragments of the same APID whose packet counts continue each other.

    Returns (whole datagrams as unsegmented fragments, fragments still incomplete). A head and a
    tail are joined when the tail's first count follows the head's last count (mod 16384) and
    their packet times are less than ``max_seconds`` apart (the counter wraps every 16384 packets).
    """
    pending = sorted(fragments, key=lambda fr: (fr.apid, fr.sec, fr.usec, fr.first_count))
    changed = True
    while changed:
        changed = False
        for i, h in enumerate(pending):
            if h.has_tail:
                continue
            for j, t in enumerate(pending):
                if (
                    j != i
                    and t.apid == h.apid
                    and not t.has_head
                    and (t.first_count - h.last_count) % SEQ_MODULUS == 1
                    and abs((t.sec + t.usec * 1e-6) - (h.sec + h.usec * 1e-6)) <= max_seconds
                ):
                    joined = Fragment(
                        apid=h.apid,
                        first_count=h.first_count,
                        last_count=t.last_count,
                        first_flag=h.first_flag,
                        last_flag=t.last_flag,
                        sec=h.sec,
                        usec=h.usec,
                        data=h.data + t.data,
                        source=h.source,
                        offset=h.offset,
                    )
                    pending = [x for k, x in enumerate(pending) if k not in (i, j)] + [joined]
                    changed = True
                    break
            if changed:
                break
    whole = [fr for fr in pending if fr.has_head and fr.has_tail]
    rest = [fr for fr in pending if not (fr.has_head and fr.has_tail)]
    return whole, rest


# --------------------------------------------------------------------------------------------
# decoding
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatagramProblem:
    """A malformed datagram: where it came from, where in it the check failed, and why."""

    source: str
    source_offset: int
    apid: int
    offset: int
    code: int
    events_lost: int

    @property
    def reason(self) -> str:
        return DATAGRAM_ERRORS.get(self.code, f"error {self.code}")

    def __str__(self) -> str:
        return (
            f"{self.source}: datagram at byte {self.source_offset} (APID {self.apid}): byte {self.offset} "
            f"of the datagram: {self.reason}; {self.events_lost} announced events not decoded"
        )


@dataclass
class DecodedDatagrams:
    """Columnar datagram and event tables of a set of reassembled datagrams.

    ``datagrams`` columns (one per datagram): ``apid, run, ground_id, mode, mode_changes,
    datagram_seq`` (raw 20 bits), ``open_action, open_reason, close_action, close_reason, crate,
    platform, origin, version, n_events`` (announced), ``hw_key, sw_key, moot_key`` (the
    configuration keys of a version-2 datagram, :data:`~fermi_halfpipe.format.UNKNOWN_KEY` in
    version 1), ``n_decoded, status, sec, usec, offset, length, first_gem, last_gem`` (−1 when
    the datagram holds no event).

    ``events`` columns (one per event, in datagram order): ``offset, length`` (in
    :attr:`buffer`), ``datagram`` (row of ``datagrams``), ``apid, run, datagram_seq, gem_seq``
    (uint64), ``hw_seq`` (17 bits), every event-header field of §4.3 and ``event_time`` (MET).
    """

    buffer: np.ndarray
    datagrams: dict[str, np.ndarray]
    events: dict[str, np.ndarray]
    problems: list[DatagramProblem]
    sources: list[str] = field(default_factory=list)

    @property
    def n_events(self) -> int:
        return int(self.events["offset"].shape[0])


def _headers(buf: np.ndarray, at: np.ndarray, dtype: np.dtype, engine: str = "numba") -> np.ndarray:
    """The fixed-size big-endian headers of ``dtype`` at offsets ``at`` of ``buf``, as a structured array.

    One gather of ``dtype.itemsize`` bytes per header (:func:`gather_records`), then a view.
    """
    raw, _ = gather_records(buf, at, np.full(at.shape[0], dtype.itemsize, dtype=np.int64), engine)
    return raw.view(dtype)


def event_time(fields: dict[str, np.ndarray]) -> np.ndarray:
    """Event time in MET (ldfReader ``timeForTds``, §4.3), vectorised."""
    mod = np.int64(1) << TICK_BITS
    trig = fields["trigger_ticks"].astype(np.int64)
    cur = fields["cur_tone_ticks"].astype(np.int64)
    prev = fields["prev_tone_ticks"].astype(np.int64)
    d_evt = (trig - cur) % mod
    d_pps = (cur - prev) % mod
    missing = TONE_MISSING_CPU_PPS | TONE_MISSING_LAT_PPS
    good = (
        ((fields["cur_tone_flags"] & missing) == 0)
        & ((fields["prev_tone_flags"] & missing) == 0)
        & (cur != prev)
        & (fields["cur_tone_sec"].astype(np.int64) - fields["prev_tone_sec"].astype(np.int64) == 1)
    )
    d_pps = np.where(good, d_pps, NOMINAL_TICKS_PER_SECOND)
    return fields["cur_tone_sec"].astype(np.float64) + d_evt / d_pps


def decode_datagrams(
    buffer: np.ndarray,
    offset: np.ndarray,
    length: np.ndarray,
    apid: np.ndarray,
    sec: np.ndarray | None = None,
    usec: np.ndarray | None = None,
    source: Sequence[str] | None = None,
    source_offset: np.ndarray | None = None,
    engine: str = "numba",
    event_columns: bool = True,
) -> DecodedDatagrams:
    """Decode reassembled datagrams into datagram and event columns (see :class:`DecodedDatagrams`).

    With ``event_columns=False`` the event table holds only ``offset, length, datagram, hw_seq``
    and ``gem_seq`` (what the datagram table needs): for a caller that keeps the datagrams, not
    their events.

    Never raises on bad content: a datagram failing a check keeps the events decoded before the
    failure and is listed in :attr:`DecodedDatagrams.problems`.
    """
    if engine not in ("numba", "reference"):
        raise ValueError(f"parameter 'engine': 'numba' or 'reference', got {engine!r}")
    buf = np.ascontiguousarray(buffer, dtype=np.uint8).reshape(-1)
    off = np.asarray(offset, dtype=np.int64)
    ln = np.asarray(length, dtype=np.int64)
    m = off.size
    apid = np.asarray(apid, dtype=np.int64)
    sec = np.zeros(m, np.int64) if sec is None else np.asarray(sec, dtype=np.int64)
    usec = np.zeros(m, np.int64) if usec is None else np.asarray(usec, dtype=np.int64)
    source = ["<memory>"] * m if source is None else list(source)
    soff = off if source_offset is None else np.asarray(source_offset, dtype=np.int64)
    capacity = int(np.maximum(ln - DATAGRAM_HEADER, 0).sum() // (EVENT_HEADER + 68)) + 1
    walk = _kernels.walk_datagrams if engine == "numba" else _reference.walk_datagrams
    e_off, e_len, e_dgm, e_hw, status, bad_off, n_good = walk(
        _kernel_bytes(buf), np.ascontiguousarray(off), np.ascontiguousarray(ln), capacity
    )

    # datagram header columns (zero where the datagram is shorter than the header)
    hdr = np.zeros(m, dtype=DATAGRAM_HEADER_DTYPE)
    full = ln >= DATAGRAM_HEADER
    if full.any():
        hdr[full] = _headers(buf, off[full], DATAGRAM_HEADER_DTYPE, engine)
    mcd = hdr["mcd"].astype(np.int64)
    keys = {n: np.full(m, UNKNOWN_KEY, dtype=np.int64) for n in KEY_NAMES}
    with_keys = (hdr["version"] == KEYS_FORMAT_VERSION) & (ln >= DATAGRAM_HEADER + DATAGRAM_KEYS) & full
    if with_keys.any():
        block = _headers(buf, off[with_keys] + DATAGRAM_HEADER, DATAGRAM_KEYS_DTYPE, engine)
        for n in KEY_NAMES:
            keys[n][with_keys] = block[n].astype(np.int64)
    dg = {
        "apid": apid,
        "run": hdr["run"].astype(np.int64),
        "ground_id": hdr["ground_id"].astype(np.int64),
        "mode": mcd >> 28,
        "mode_changes": (mcd >> 20) & 0xFF,
        "datagram_seq": mcd & 0xFFFFF,
        "open_action": hdr["open_action"].astype(np.int64),
        "open_reason": hdr["open_reason"].astype(np.int64),
        "close_action": hdr["close_action"].astype(np.int64),
        "close_reason": hdr["close_reason"].astype(np.int64),
        "crate": hdr["crate"].astype(np.int64),
        "platform": hdr["platform"].astype(np.int64),
        "origin": hdr["origin"].astype(np.int64),
        "version": hdr["version"].astype(np.int64),
        "n_events": hdr["n_events"].astype(np.int64),
        **{n: keys[n] for n in KEY_NAMES},
        "n_decoded": n_good,
        "status": status,
        "sec": sec,
        "usec": usec,
        "offset": off,
        "length": ln,
    }
    ev: dict[str, np.ndarray] = {"offset": e_off, "length": e_len, "datagram": e_dgm, "hw_seq": e_hw}
    if event_columns:
        heads = _headers(buf, e_off, EVENT_HEADER_DTYPE, engine)
        for name, (_o, _w, dt) in EVENT_FIELDS.items():
            ev[name] = heads[name].astype(dt)
        del heads
        ev["apid"] = apid[e_dgm]
        ev["run"] = dg["run"][e_dgm]
        ev["datagram_seq"] = dg["datagram_seq"][e_dgm]
        ev["event_time"] = event_time(ev)
    else:
        at, _width, dt = EVENT_FIELDS["gem_seq"]
        ev["gem_seq"] = _headers(buf, e_off + at, EVENT_HEADER_DTYPE["gem_seq"], engine).astype(dt)
    first = np.full(m, -1, dtype=np.int64)
    last = np.full(m, -1, dtype=np.int64)
    if e_dgm.size:
        starts = np.flatnonzero(np.r_[True, e_dgm[1:] != e_dgm[:-1]])
        ends = np.r_[starts[1:], e_dgm.size] - 1
        first[e_dgm[starts]] = ev["gem_seq"][starts].astype(np.int64)
        last[e_dgm[ends]] = ev["gem_seq"][ends].astype(np.int64)
    dg["first_gem"] = first
    dg["last_gem"] = last
    problems = [
        DatagramProblem(
            source=source[d],
            source_offset=int(soff[d]),
            apid=int(apid[d]),
            offset=int(bad_off[d]),
            code=int(status[d]),
            events_lost=int(max(dg["n_events"][d] - n_good[d], 0)),
        )
        for d in np.flatnonzero(status != 0)
    ]
    dg["source_offset"] = soff
    return DecodedDatagrams(buf, dg, ev, problems, source)
