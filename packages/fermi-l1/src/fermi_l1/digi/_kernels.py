"""Numba kernels of the event decoder and encoder (plain arrays in and out).

Records are events laid out as in docs/formats/telemetry.md 4.3-4.7, given as one flat uint8
buffer with int64 ``offsets`` and ``lengths``. Decoding is two passes: :func:`scan_records`
validates every record and counts its hits, :func:`fill_records` writes the hit arrays.
The plain-Python twin is :mod:`._reference`.
"""

from __future__ import annotations

import numpy as np

from fermi_core.jit import njit

from ._layout import (
    AEM_HEADER_BYTES,
    EVENT_HEADER_BYTES,
    EVENT_IDENTITY,
    GEM_BYTES,
    SUMMARY_MASK,
    TEM_HEADER_BYTES,
    TYPE_AEM,
    TYPE_GEM,
    TYPE_TEM,
)


@njit(nogil=True, inline="always")
def _rd(buf: np.ndarray, pos: int, width: int) -> int:
    v = 0
    for k in range(width):
        v = (v << 8) | np.int64(buf[pos + k])
    return v


@njit(nogil=True)
def _rd_u64(buf: np.ndarray, pos: int, width: int) -> np.uint64:
    v = np.uint64(0)
    for k in range(width):
        v = (v << np.uint64(8)) | np.uint64(buf[pos + k])
    return v


@njit(nogil=True)
def _scan_one(buf: np.ndarray, o: int, n: int, counts: np.ndarray) -> tuple[int, int]:
    """Validate one record; return (status, offset of the fault within the record)."""
    if n < EVENT_HEADER_BYTES:
        return 1, 0
    if _rd(buf, o, 4) != EVENT_IDENTITY:
        return 2, 0
    evlen = _rd(buf, o + 4, 4)
    if evlen != n or evlen % 4 != 0:
        return 3, 4
    n_contrib = _rd(buf, o + 88, 2)
    p = EVENT_HEADER_BYTES
    k = 0
    summary = -1
    last_tower = -1
    seen_aem = False
    n_tkr = 0
    n_cal = 0
    n_acd = 0
    while p < n:
        if p + 8 > n:
            return 4, p
        typ = np.int64(buf[o + p])
        src = np.int64(buf[o + p + 1])
        c_len = _rd(buf, o + p + 2, 2)
        summ = _rd(buf, o + p + 4, 4) & SUMMARY_MASK
        if c_len < 8 or c_len % 4 != 0 or p + c_len > n:
            return 5, p
        if (k == 0) != (typ == TYPE_GEM):
            return 6, p
        if typ == TYPE_GEM:
            if c_len != GEM_BYTES:
                return 5, p
        elif typ == TYPE_TEM:
            if seen_aem or src <= last_tower:
                return 16, p
            if src > 15:
                return 10, p
            last_tower = src
            if c_len < TEM_HEADER_BYTES:
                return 8, p
            ns = _rd(buf, o + p + 8, 2)
            nl = _rd(buf, o + p + 10, 2)
            if c_len != TEM_HEADER_BYTES + 4 * ns + 8 * nl:
                return 8, p
            q = o + p + TEM_HEADER_BYTES
            for _ in range(ns):
                if buf[q] > 17 or buf[q + 1] > 1 or _rd(buf, q + 2, 2) > 1535:
                    return 11, q - o
                q += 4
            for _ in range(nl):
                if buf[q] > 7 or buf[q + 1] > 11 or (buf[q + 2] >> 4) > 3 or (buf[q + 2] & 15) > 3:
                    return 12, q - o
                q += 8
            n_tkr += ns
            n_cal += nl
        elif typ == TYPE_AEM:
            if seen_aem:
                return 16, p
            seen_aem = True
            if c_len < AEM_HEADER_BYTES:
                return 9, p
            nh = _rd(buf, o + p + 8, 2)
            if c_len != AEM_HEADER_BYTES + 8 * nh:
                return 9, p
            n_acd += nh
        else:
            return 7, p
        if k == 0:
            summary = summ
        elif summ != summary:
            return 14, p + 4
        p += c_len
        k += 1
    if k == 0:
        return 6, p
    if k != n_contrib:
        return 13, 88
    counts[0] = n_tkr
    counts[1] = n_cal
    counts[2] = n_acd
    return 0, 0


@njit(nogil=True)
def scan_records(
    buf: np.ndarray, offsets: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate records and count their hits.

    Returns
    -------
    status : int32 (n,)
        0 for a good record, else a code of ``_layout.STATUS_TEXT``.
    fault : int64 (n,)
        Byte offset of the fault within the record (0 for good records).
    counts : int64 (n, 3)
        Tracker strips, calorimeter logs and ACD hits of each good record (0 for bad ones).
    """
    n = offsets.shape[0]
    status = np.zeros(n, dtype=np.int32)
    fault = np.zeros(n, dtype=np.int64)
    counts = np.zeros((n, 3), dtype=np.int64)
    size = buf.shape[0]
    for i in range(n):
        o = offsets[i]
        ln = lengths[i]
        if o < 0 or ln < 0 or o + ln > size:
            status[i] = 15
            continue
        st, pos = _scan_one(buf, o, ln, counts[i])
        status[i] = st
        fault[i] = pos
    return status, fault, counts


@njit(nogil=True)
def fill_records(
    buf: np.ndarray,
    offsets: np.ndarray,
    status: np.ndarray,
    tkr_ptr: np.ndarray,
    cal_ptr: np.ndarray,
    acd_ptr: np.ndarray,
    field_base: np.ndarray,
    field_offset: np.ndarray,
    field_width: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Decode the good records (``status == 0``) into header fields and hit arrays.

    ``*_ptr`` are int64 (n+1) CSR pointers of each record's hits (cumulative counts of
    :func:`scan_records`). Returns ``fields`` uint64 (n, n_fields) in the order of
    ``_layout.HEADER_FIELDS``, ``tkr`` int16 (n_tkr, 4) = (tower, plane, view, strip),
    ``cal`` int32 (n_cal, 7) = (tower, layer, column, range_pos, range_neg, adc_pos, adc_neg),
    ``acd`` int32 (n_acd, 5) = (id, pmt flags, ranges, pha_a, pha_b).
    """
    n = offsets.shape[0]
    nf = field_base.shape[0]
    fields = np.zeros((n, nf), dtype=np.uint64)
    tkr = np.empty((tkr_ptr[n], 4), dtype=np.int16)
    cal = np.empty((cal_ptr[n], 7), dtype=np.int32)
    acd = np.empty((acd_ptr[n], 5), dtype=np.int32)
    for i in range(n):
        if status[i] != 0:
            continue
        o = offsets[i]
        for f in range(nf):
            base = o if field_base[f] == 0 else o + EVENT_HEADER_BYTES
            fields[i, f] = _rd_u64(buf, base + field_offset[f], field_width[f])
        n_bytes = _rd(buf, o + 4, 4)
        p = EVENT_HEADER_BYTES
        it = tkr_ptr[i]
        ic = cal_ptr[i]
        ia = acd_ptr[i]
        while p < n_bytes:
            typ = buf[o + p]
            src = np.int64(buf[o + p + 1])
            c_len = _rd(buf, o + p + 2, 2)
            if typ == TYPE_TEM:
                ns = _rd(buf, o + p + 8, 2)
                nl = _rd(buf, o + p + 10, 2)
                q = o + p + TEM_HEADER_BYTES
                for _ in range(ns):
                    tkr[it, 0] = src
                    tkr[it, 1] = buf[q]
                    tkr[it, 2] = buf[q + 1]
                    tkr[it, 3] = _rd(buf, q + 2, 2)
                    it += 1
                    q += 4
                for _ in range(nl):
                    cal[ic, 0] = src
                    cal[ic, 1] = buf[q]
                    cal[ic, 2] = buf[q + 1]
                    cal[ic, 3] = buf[q + 2] >> 4
                    cal[ic, 4] = buf[q + 2] & 15
                    cal[ic, 5] = _rd(buf, q + 4, 2)
                    cal[ic, 6] = _rd(buf, q + 6, 2)
                    ic += 1
                    q += 8
            elif typ == TYPE_AEM:
                nh = _rd(buf, o + p + 8, 2)
                q = o + p + AEM_HEADER_BYTES
                for _ in range(nh):
                    acd[ia, 0] = _rd(buf, q, 2)
                    acd[ia, 1] = buf[q + 2]
                    acd[ia, 2] = buf[q + 3]
                    acd[ia, 3] = _rd(buf, q + 4, 2)
                    acd[ia, 4] = _rd(buf, q + 6, 2)
                    ia += 1
                    q += 8
            p += c_len
    return fields, tkr, cal, acd


@njit(nogil=True, inline="always")
def _wr(buf: np.ndarray, pos: int, width: int, value: np.uint64) -> None:
    for k in range(width):
        buf[pos + width - 1 - k] = np.uint8((value >> np.uint64(8 * k)) & np.uint64(0xFF))


@njit(nogil=True)
def encode_records(
    fields: np.ndarray,
    field_base: np.ndarray,
    field_offset: np.ndarray,
    field_width: np.ndarray,
    tem_ptr: np.ndarray,
    tem_tower: np.ndarray,
    tem_tkr_ptr: np.ndarray,
    tem_cal_ptr: np.ndarray,
    tkr: np.ndarray,
    cal: np.ndarray,
    acd_ptr: np.ndarray,
    acd: np.ndarray,
    offsets: np.ndarray,
    total: int,
) -> np.ndarray:
    """Write event records into one uint8 buffer of ``total`` bytes.

    ``tem_ptr`` (n+1) points into the per-TEM arrays ``tem_tower``, ``tem_tkr_ptr`` and
    ``tem_cal_ptr`` (each TEM's strips ``tkr[tem_tkr_ptr[t]:tem_tkr_ptr[t+1]]``, same for logs);
    ``acd_ptr`` (n+1) points into ``acd``; ``offsets`` (n+1) are the record starts.
    Hit layouts are those returned by :func:`fill_records`. Lengths, contribution counts and
    the identity words are computed here; the event summary of ``fields`` goes to every
    contribution.
    """
    buf = np.zeros(total, dtype=np.uint8)
    n = fields.shape[0]
    nf = field_base.shape[0]
    i_summary = -1
    for f in range(nf):
        if field_base[f] == 1 and field_offset[f] == 4:
            i_summary = f
    for i in range(n):
        o = offsets[i]
        length = offsets[i + 1] - o
        summary = fields[i, i_summary] if i_summary >= 0 else np.uint64(0)
        _wr(buf, o, 4, np.uint64(EVENT_IDENTITY))
        _wr(buf, o + 4, 4, np.uint64(length))
        n_tem = tem_ptr[i + 1] - tem_ptr[i]
        has_aem = acd_ptr[i + 1] > acd_ptr[i]
        _wr(buf, o + 88, 2, np.uint64(1 + n_tem + (1 if has_aem else 0)))
        for f in range(nf):
            base = o if field_base[f] == 0 else o + EVENT_HEADER_BYTES
            _wr(buf, base + field_offset[f], field_width[f], fields[i, f])
        g = o + EVENT_HEADER_BYTES
        buf[g] = TYPE_GEM
        _wr(buf, g + 2, 2, np.uint64(GEM_BYTES))
        p = g + GEM_BYTES
        for t in range(tem_ptr[i], tem_ptr[i + 1]):
            ns = tem_tkr_ptr[t + 1] - tem_tkr_ptr[t]
            nl = tem_cal_ptr[t + 1] - tem_cal_ptr[t]
            c_len = TEM_HEADER_BYTES + 4 * ns + 8 * nl
            buf[p] = TYPE_TEM
            buf[p + 1] = tem_tower[t]
            _wr(buf, p + 2, 2, np.uint64(c_len))
            _wr(buf, p + 4, 4, summary)
            _wr(buf, p + 8, 2, np.uint64(ns))
            _wr(buf, p + 10, 2, np.uint64(nl))
            q = p + TEM_HEADER_BYTES
            for j in range(tem_tkr_ptr[t], tem_tkr_ptr[t + 1]):
                buf[q] = tkr[j, 1]
                buf[q + 1] = tkr[j, 2]
                _wr(buf, q + 2, 2, np.uint64(tkr[j, 3]))
                q += 4
            for j in range(tem_cal_ptr[t], tem_cal_ptr[t + 1]):
                buf[q] = cal[j, 1]
                buf[q + 1] = cal[j, 2]
                buf[q + 2] = (cal[j, 3] << 4) | cal[j, 4]
                _wr(buf, q + 4, 2, np.uint64(cal[j, 5]))
                _wr(buf, q + 6, 2, np.uint64(cal[j, 6]))
                q += 8
            p += c_len
        if has_aem:
            nh = acd_ptr[i + 1] - acd_ptr[i]
            buf[p] = TYPE_AEM
            _wr(buf, p + 2, 2, np.uint64(AEM_HEADER_BYTES + 8 * nh))
            _wr(buf, p + 4, 4, summary)
            _wr(buf, p + 8, 2, np.uint64(nh))
            q = p + AEM_HEADER_BYTES
            for j in range(acd_ptr[i], acd_ptr[i + 1]):
                _wr(buf, q, 2, np.uint64(acd[j, 0]))
                buf[q + 2] = acd[j, 1]
                buf[q + 3] = acd[j, 2]
                _wr(buf, q + 4, 2, np.uint64(acd[j, 3]))
                _wr(buf, q + 6, 2, np.uint64(acd[j, 4]))
                q += 8
    return buf
