"""Vectorised CCSDS packet encoder (format version 1, ``docs/formats/telemetry.md`` section 2).

Columns in, bytes out: no Python loop per packet. Headers are built as one numpy structured
array with big-endian fields and scattered into the output together with the payload bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fermi_ingest.ccsds.constants import (
    HEADER_LENGTH,
    MAX_PAYLOAD,
    SEQ_CONTINUATION,
    SEQ_FIRST,
    SEQ_LAST,
    SEQ_MODULUS,
    SEQ_UNSEGMENTED,
)

HEADER_DTYPE = np.dtype(
    [("ident", ">u2"), ("control", ">u2"), ("data_length", ">u2"), ("sec", ">u4"), ("usec", ">u4")]
)


@dataclass
class PacketColumns:
    """Packets as columns; packet ``i``'s payload is ``payload[payload_start[i]:][:payload_length[i]]``.

    Attributes
    ----------
    apid, seq_flags, seq_count : int arrays
        CCSDS fields (11, 2 and 14 bits).
    sec, usec : int arrays
        Secondary header time: MET seconds and microseconds.
    payload : uint8 array
        Payloads of all packets, back to back.
    payload_length : int64 array
        Payload bytes of each packet.
    """

    apid: np.ndarray
    seq_flags: np.ndarray
    seq_count: np.ndarray
    sec: np.ndarray
    usec: np.ndarray
    payload: np.ndarray
    payload_length: np.ndarray

    def __len__(self) -> int:
        return int(np.asarray(self.apid).shape[0])

    @property
    def payload_start(self) -> np.ndarray:
        """Offset of each packet's payload in :attr:`payload`."""
        ends = np.cumsum(np.asarray(self.payload_length, dtype=np.int64))
        return ends - self.payload_length

    def take(self, index: np.ndarray) -> PacketColumns:
        """Return the packets ``index`` (integer array), in that order (e.g. to interleave APIDs)."""
        index = np.asarray(index, dtype=np.int64)
        plen = np.asarray(self.payload_length, dtype=np.int64)[index]
        src = self.payload_start[index]
        dst = np.cumsum(plen) - plen
        gather = np.arange(int(plen.sum()), dtype=np.int64) + np.repeat(src - dst, plen)
        return PacketColumns(
            apid=np.asarray(self.apid)[index],
            seq_flags=np.asarray(self.seq_flags)[index],
            seq_count=np.asarray(self.seq_count)[index],
            sec=np.asarray(self.sec)[index],
            usec=np.asarray(self.usec)[index],
            payload=np.asarray(self.payload, dtype=np.uint8)[gather],
            payload_length=plen,
        )


def _column(name: str, values: object, n: int, lo: int, hi: int) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim == 0:
        arr = np.full(n, arr)
    if arr.shape != (n,):
        raise ValueError(f"parameter {name!r}: expected {n} values, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"parameter {name!r}: integers required, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    bad = np.flatnonzero((arr < lo) | (arr > hi))
    if bad.size:
        raise ValueError(f"parameter {name!r}: value {arr[bad[0]]} at index {bad[0]} outside [{lo}, {hi}]")
    return arr


def encode_packets(columns: PacketColumns, max_payload: int = MAX_PAYLOAD) -> np.ndarray:
    """Return the bytes (uint8 array) of the packets described by ``columns``, back to back.

    Raises
    ------
    ValueError
        Naming the column and the first bad index, if a field is out of range or a payload is
        longer than ``max_payload``.
    """
    n = len(columns)
    plen = _column("payload_length", columns.payload_length, n, 0, max_payload)
    payload = np.ascontiguousarray(columns.payload, dtype=np.uint8).reshape(-1)
    if int(plen.sum()) != payload.size:
        raise ValueError(
            f"parameter 'payload': {payload.size} bytes but payload_length sums to {int(plen.sum())}"
        )
    header = np.empty(n, dtype=HEADER_DTYPE)
    apid = _column("apid", columns.apid, n, 0, 2047)
    flags = _column("seq_flags", columns.seq_flags, n, 0, 3)
    count = _column("seq_count", columns.seq_count, n, 0, SEQ_MODULUS - 1)
    header["ident"] = (1 << 11) | apid  # version 0, telemetry, secondary header present
    header["control"] = (flags << 14) | count
    header["data_length"] = plen + HEADER_LENGTH - 7
    header["sec"] = _column("sec", columns.sec, n, 0, 2**32 - 1)
    header["usec"] = _column("usec", columns.usec, n, 0, 999_999)

    total = plen + HEADER_LENGTH
    start = np.cumsum(total) - total
    out = np.empty(int(total.sum()), dtype=np.uint8)
    out[(start[:, None] + np.arange(HEADER_LENGTH)).reshape(-1)] = header.view(np.uint8)
    # each payload byte moves by 14 bytes per packet header before it (HEADER_LENGTH * (i + 1))
    shift = np.repeat(HEADER_LENGTH * np.arange(1, n + 1, dtype=np.int64), plen)
    out[np.arange(payload.size, dtype=np.int64) + shift] = payload
    return out


def segment_datagrams(
    apid: int,
    datagrams: Sequence[bytes],
    sec: object,
    usec: object = 0,
    first_count: int = 0,
    max_payload: int = MAX_PAYLOAD,
) -> PacketColumns:
    """Split datagrams of one APID into packet columns (sequence flags and counts set).

    Parameters
    ----------
    apid
        APID of every packet.
    datagrams
        Datagram bytes, in sending order. An empty datagram is sent as one empty packet.
    sec, usec
        Packet time of each datagram (scalars or one value per datagram); every packet of a
        datagram gets its datagram's time.
    first_count
        Sequence count of the first packet; later packets count up modulo 16384.
    max_payload
        Payload bytes per packet; all packets of a datagram but the last are full.
    """
    if max_payload < 1:
        raise ValueError(f"parameter 'max_payload': must be positive, got {max_payload}")
    dlen = np.fromiter((len(d) for d in datagrams), dtype=np.int64, count=len(datagrams))
    m = dlen.size
    npk = np.maximum(1, -(-dlen // max_payload))
    first = np.cumsum(npk) - npk  # index of each datagram's first packet
    total = int(npk.sum())
    owner = np.repeat(np.arange(m), npk)
    k = np.arange(total) - first[owner]  # index of the packet within its datagram
    last = k == npk[owner] - 1
    plen = np.where(last, dlen[owner] - k * max_payload, max_payload)
    flags = np.where(k == 0, SEQ_FIRST, SEQ_CONTINUATION)
    flags = np.where(last, np.where(k == 0, SEQ_UNSEGMENTED, SEQ_LAST), flags)
    sec_d = np.broadcast_to(np.asarray(sec, dtype=np.int64), (m,))
    usec_d = np.broadcast_to(np.asarray(usec, dtype=np.int64), (m,))
    return PacketColumns(
        apid=np.full(total, apid, dtype=np.int64),
        seq_flags=flags.astype(np.int64),
        seq_count=(first_count + np.arange(total, dtype=np.int64)) % SEQ_MODULUS,
        sec=sec_d[owner].copy(),
        usec=usec_d[owner].copy(),
        payload=np.frombuffer(b"".join(datagrams), dtype=np.uint8).copy(),
        payload_length=plen.astype(np.int64),
    )


def concatenate(parts: Sequence[PacketColumns]) -> PacketColumns:
    """Return the packets of ``parts`` one after the other."""
    return PacketColumns(
        **{
            name: np.concatenate([np.asarray(getattr(p, name)) for p in parts]).astype(
                np.uint8 if name == "payload" else np.int64
            )
            for name in ("apid", "seq_flags", "seq_count", "sec", "usec", "payload", "payload_length")
        }
    )
