"""Plain-Python twin of :mod:`._kernels` (record by record, ``int.from_bytes``): the oracle in tests."""

from __future__ import annotations

import numpy as np

from ._layout import (
    AEM_HEADER_BYTES,
    EVENT_HEADER_BYTES,
    EVENT_IDENTITY,
    GEM_BYTES,
    HEADER_FIELDS,
    SUMMARY_MASK,
    TEM_HEADER_BYTES,
    TYPE_AEM,
    TYPE_GEM,
    TYPE_TEM,
)


class _Bad(Exception):
    def __init__(self, code: int, pos: int) -> None:
        self.code = code
        self.pos = pos


def _u(rec: bytes, pos: int, width: int) -> int:
    return int.from_bytes(rec[pos : pos + width], "big")


def _parse(rec: bytes) -> tuple[list[int], list[tuple], list[tuple], list[tuple]]:
    n = len(rec)
    if n < EVENT_HEADER_BYTES:
        raise _Bad(1, 0)
    if _u(rec, 0, 4) != EVENT_IDENTITY:
        raise _Bad(2, 0)
    if _u(rec, 4, 4) != n or n % 4:
        raise _Bad(3, 4)
    fields = [
        _u(rec, off + (EVENT_HEADER_BYTES if base else 0), width) for _, base, off, width, _ in HEADER_FIELDS
    ]
    tkr: list[tuple] = []
    cal: list[tuple] = []
    acd: list[tuple] = []
    p, k, summary, last_tower, seen_aem = EVENT_HEADER_BYTES, 0, None, -1, False
    while p < n:
        if p + 8 > n:
            raise _Bad(4, p)
        typ, src, c_len = rec[p], rec[p + 1], _u(rec, p + 2, 2)
        summ = _u(rec, p + 4, 4) & SUMMARY_MASK
        if c_len < 8 or c_len % 4 or p + c_len > n:
            raise _Bad(5, p)
        if (k == 0) != (typ == TYPE_GEM):
            raise _Bad(6, p)
        body = rec[p : p + c_len]
        if typ == TYPE_GEM:
            if c_len != GEM_BYTES:
                raise _Bad(5, p)
        elif typ == TYPE_TEM:
            if seen_aem or src <= last_tower:
                raise _Bad(16, p)
            if src > 15:
                raise _Bad(10, p)
            last_tower = src
            if c_len < TEM_HEADER_BYTES:
                raise _Bad(8, p)
            ns, nl = _u(body, 8, 2), _u(body, 10, 2)
            if c_len != TEM_HEADER_BYTES + 4 * ns + 8 * nl:
                raise _Bad(8, p)
            q = TEM_HEADER_BYTES
            for _ in range(ns):
                hit = (src, body[q], body[q + 1], _u(body, q + 2, 2))
                if hit[1] > 17 or hit[2] > 1 or hit[3] > 1535:
                    raise _Bad(11, p + q)
                tkr.append(hit)
                q += 4
            for _ in range(nl):
                log = (src, body[q], body[q + 1], body[q + 2] >> 4, body[q + 2] & 15)
                if log[1] > 7 or log[2] > 11 or log[3] > 3 or log[4] > 3:
                    raise _Bad(12, p + q)
                cal.append((*log, _u(body, q + 4, 2), _u(body, q + 6, 2)))
                q += 8
        elif typ == TYPE_AEM:
            if seen_aem:
                raise _Bad(16, p)
            seen_aem = True
            if c_len < AEM_HEADER_BYTES:
                raise _Bad(9, p)
            nh = _u(body, 8, 2)
            if c_len != AEM_HEADER_BYTES + 8 * nh:
                raise _Bad(9, p)
            for j in range(nh):
                q = AEM_HEADER_BYTES + 8 * j
                acd.append((_u(body, q, 2), body[q + 2], body[q + 3], _u(body, q + 4, 2), _u(body, q + 6, 2)))
        else:
            raise _Bad(7, p)
        if k == 0:
            summary = summ
        elif summ != summary:
            raise _Bad(14, p + 4)
        p += c_len
        k += 1
    if k == 0:
        raise _Bad(6, p)
    if k != _u(rec, 88, 2):
        raise _Bad(13, 88)
    return fields, tkr, cal, acd


def decode_records(
    buf: np.ndarray, offsets: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (status, fault, counts, fields, tkr, cal, acd, ptrs) like the two kernels together.

    ``ptrs`` is int64 (3, n+1): the CSR pointers of tracker, calorimeter and ACD hits.
    """
    raw = bytes(np.asarray(buf, dtype=np.uint8))
    n = len(offsets)
    status = np.zeros(n, dtype=np.int32)
    fault = np.zeros(n, dtype=np.int64)
    counts = np.zeros((n, 3), dtype=np.int64)
    fields = np.zeros((n, len(HEADER_FIELDS)), dtype=np.uint64)
    tkr: list[tuple] = []
    cal: list[tuple] = []
    acd: list[tuple] = []
    for i, (o, ln) in enumerate(zip(offsets.tolist(), lengths.tolist(), strict=True)):
        if o < 0 or ln < 0 or o + ln > len(raw):
            status[i] = 15
            continue
        try:
            f, t, c, a = _parse(raw[o : o + ln])
        except _Bad as bad:
            status[i], fault[i] = bad.code, bad.pos
            continue
        fields[i] = f
        counts[i] = (len(t), len(c), len(a))
        tkr += t
        cal += c
        acd += a
    ptrs = np.zeros((3, n + 1), dtype=np.int64)
    ptrs[:, 1:] = np.cumsum(counts, axis=0).T
    return (
        status,
        fault,
        counts,
        fields,
        np.array(tkr, dtype=np.int16).reshape(-1, 4),
        np.array(cal, dtype=np.int32).reshape(-1, 7),
        np.array(acd, dtype=np.int32).reshape(-1, 5),
        ptrs,
    )


def encode_record(fields: dict[str, int], tems: list[tuple], acd: list[tuple]) -> bytes:
    """Return the bytes of one event.

    ``tems`` is a list of ``(tower, strips, logs)`` with strips ``(plane, view, strip)`` and logs
    ``(layer, column, range_pos, range_neg, adc_pos, adc_neg)``; ``acd`` a list of
    ``(id, flags, ranges, pha_a, pha_b)``.
    """
    summary = fields.get("event_summary", 0)
    gem = bytearray(GEM_BYTES)
    head = bytearray(EVENT_HEADER_BYTES)
    for name, base, off, width, _ in HEADER_FIELDS:
        target = gem if base else head
        target[off : off + width] = int(fields.get(name, 0)).to_bytes(width, "big")
    gem[0] = TYPE_GEM
    gem[2:4] = GEM_BYTES.to_bytes(2, "big")
    body = bytearray(gem)
    for tower, strips, logs in tems:
        tem = bytearray([TYPE_TEM, tower]) + (TEM_HEADER_BYTES + 4 * len(strips) + 8 * len(logs)).to_bytes(
            2, "big"
        )
        tem += summary.to_bytes(4, "big") + len(strips).to_bytes(2, "big") + len(logs).to_bytes(2, "big")
        for plane, view, strip in strips:
            tem += bytes([plane, view]) + int(strip).to_bytes(2, "big")
        for layer, column, rp, rn, ap, an in logs:
            tem += (
                bytes([layer, column, (rp << 4) | rn, 0])
                + int(ap).to_bytes(2, "big")
                + int(an).to_bytes(2, "big")
            )
        body += tem
    if acd:
        aem = bytearray([TYPE_AEM, 0]) + (AEM_HEADER_BYTES + 8 * len(acd)).to_bytes(2, "big")
        aem += summary.to_bytes(4, "big") + len(acd).to_bytes(2, "big") + bytes(2)
        for tile, flags, ranges, pa, pb in acd:
            aem += int(tile).to_bytes(2, "big") + bytes([flags, ranges]) + int(pa).to_bytes(2, "big")
            aem += int(pb).to_bytes(2, "big")
        body += aem
    head[0:4] = EVENT_IDENTITY.to_bytes(4, "big")
    head[4:8] = (EVENT_HEADER_BYTES + len(body)).to_bytes(4, "big")
    head[88:90] = (1 + len(tems) + (1 if acd else 0)).to_bytes(2, "big")
    return bytes(head + body)
