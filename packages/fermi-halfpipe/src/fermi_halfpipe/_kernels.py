"""Numba kernels of the halfpipe: datagram walk, counter unrolling, two-stream merge.

Plain arrays in, arrays out, explicit dtypes, no I/O. Each kernel has a plain-numpy twin of the
same name in :mod:`fermi_halfpipe._reference` that the tests compare against. Error codes are the
``DGM_*`` constants below (0 = good); texts are in :data:`fermi_halfpipe.datagram.DATAGRAM_ERRORS`.
"""

from __future__ import annotations

import numpy as np

from fermi_core.jit import njit

DGM_OK = 0
DGM_TRUNCATED = 1  # shorter than its header (32 bytes; 48 in format version 2)
DGM_BAD_IDENTITY = 2
DGM_BAD_LENGTH = 3  # header length differs from the reassembled length
DGM_BAD_VERSION = 4
DGM_BAD_EVENT_IDENTITY = 5
DGM_BAD_EVENT_LENGTH = 6
DGM_BAD_CONTRIBUTION = 7
DGM_CONTRIBUTION_COUNT = 8
DGM_NO_GEM = 9
DGM_SUMMARY_MISMATCH = 10
DGM_TRAILING_BYTES = 11
DGM_BODY_LENGTH = 12  # TEM/AEM length disagrees with its hit counts

_EVT_HEADER = 96
_CON_HEADER = 8
_GEM_LENGTH = 68


@njit(nogil=True, inline="always")
def _u4(buf, p):
    return (
        (np.int64(buf[p]) << 24)
        | (np.int64(buf[p + 1]) << 16)
        | (np.int64(buf[p + 2]) << 8)
        | np.int64(buf[p + 3])
    )


@njit(nogil=True, inline="always")
def _u2(buf, p):
    return (np.int64(buf[p]) << 8) | np.int64(buf[p + 1])


@njit(nogil=True)
def _check_contributions(buf, p, end, n_con):
    """Walk the contributions of the event body ``[p, end)``; return (code, bad offset, hw seq)."""
    k = 0
    hw = np.int64(-1)
    q = p
    while q < end:
        if end - q < _CON_HEADER:
            return DGM_BAD_CONTRIBUTION, q, hw
        ctype = np.int64(buf[q])
        con_len = _u2(buf, q + 2)
        if con_len < _CON_HEADER or con_len % 4 != 0 or q + con_len > end:
            return DGM_BAD_CONTRIBUTION, q, hw
        summary = _u4(buf, q + 4) & 0x1FFFF
        if k == 0:
            if ctype != 1 or con_len != _GEM_LENGTH:
                return DGM_NO_GEM, q, hw
            hw = summary
        elif summary != hw:
            return DGM_SUMMARY_MISMATCH, q, hw
        if ctype == 2:
            if con_len < 12 or con_len != 12 + 4 * _u2(buf, q + 8) + 8 * _u2(buf, q + 10):
                return DGM_BODY_LENGTH, q, hw
        elif ctype == 3:
            if con_len < 12 or con_len != 12 + 8 * _u2(buf, q + 8):
                return DGM_BODY_LENGTH, q, hw
        elif ctype != 1:
            return DGM_BAD_CONTRIBUTION, q, hw
        q += con_len
        k += 1
    if k != n_con or k == 0:
        return DGM_CONTRIBUTION_COUNT, p, hw
    return DGM_OK, 0, hw


@njit(nogil=True)
def walk_datagrams(buf, dgm_off, dgm_len, capacity):
    """Find the event records of every datagram and check them down to the contributions.

    Parameters
    ----------
    buf : uint8[:]
        Reassembled datagrams, back to back.
    dgm_off, dgm_len : int64[:]
        Offset and length of each datagram in ``buf``.
    capacity : int
        Size of the event output arrays (an upper bound of the number of events).

    Returns
    -------
    evt_off, evt_len, evt_dgm, evt_hw : int64 arrays (length = events found)
        Offset in ``buf`` and length of each event record, index of its datagram, 17-bit
        hardware event sequence of its contributions.
    status, bad_offset, n_good : int64 arrays (one per datagram)
        Error code, offset of the failure from the datagram start, events decoded before it
        (events before a failure are kept; the rest of the datagram is reported, not decoded).
    """
    m = dgm_off.shape[0]
    evt_off = np.empty(capacity, dtype=np.int64)
    evt_len = np.empty(capacity, dtype=np.int64)
    evt_dgm = np.empty(capacity, dtype=np.int64)
    evt_hw = np.empty(capacity, dtype=np.int64)
    status = np.zeros(m, dtype=np.int64)
    bad_offset = np.zeros(m, dtype=np.int64)
    n_good = np.zeros(m, dtype=np.int64)
    n = 0
    for d in range(m):
        s = dgm_off[d]
        e = s + dgm_len[d]
        if dgm_len[d] < 32:
            status[d] = DGM_TRUNCATED
            continue
        if _u4(buf, s) != 0x201F1010:
            status[d] = DGM_BAD_IDENTITY
            continue
        if _u4(buf, s + 4) != dgm_len[d]:
            status[d] = DGM_BAD_LENGTH
            bad_offset[d] = 4
            continue
        version = np.int64(buf[s + 27])
        if version != 1 and version != 2:
            status[d] = DGM_BAD_VERSION
            bad_offset[d] = 27
            continue
        head = 48 if version == 2 else 32  # version 2: the 16-byte configuration-key block follows
        if dgm_len[d] < head:
            status[d] = DGM_TRUNCATED
            bad_offset[d] = 32
            continue
        n_events = _u4(buf, s + 28)
        p = s + head
        code = DGM_OK
        where = np.int64(0)
        for _k in range(n_events):
            if e - p < _EVT_HEADER or _u4(buf, p) != 0x104F0010:
                code = DGM_BAD_EVENT_IDENTITY if e - p >= 4 else DGM_BAD_EVENT_LENGTH
                where = p
                break
            length = _u4(buf, p + 4)
            if length < _EVT_HEADER + _GEM_LENGTH or length % 4 != 0 or p + length > e:
                code = DGM_BAD_EVENT_LENGTH
                where = p + 4
                break
            c, at, hw = _check_contributions(buf, p + _EVT_HEADER, p + length, _u2(buf, p + 88))
            if c != DGM_OK:
                code = c
                where = at
                break
            if n < capacity:
                evt_off[n] = p
                evt_len[n] = length
                evt_dgm[n] = d
                evt_hw[n] = hw
            n += 1
            n_good[d] += 1
            p += length
        if code == DGM_OK and p != e:
            code = DGM_TRAILING_BYTES
            where = p
        status[d] = code
        bad_offset[d] = where - s if code != DGM_OK else 0
    n = min(n, capacity)
    return evt_off[:n], evt_len[:n], evt_dgm[:n], evt_hw[:n], status, bad_offset, n_good


@njit(nogil=True)
def unroll(values, bits, start):
    """Unroll a wrapping counter: ``out[i] = out[i-1] + (values[i] - values[i-1]) mod 2**bits``.

    ``out[0] = start`` (the caller anchors the first value; ``start % 2**bits`` must equal
    ``values[0]``). Steps are taken forward, so the stream must be in sending order.
    """
    n = values.shape[0]
    out = np.empty(n, dtype=np.int64)
    if n == 0:
        return out
    mask = (np.int64(1) << bits) - 1
    out[0] = start
    for i in range(1, n):
        out[i] = out[i - 1] + ((np.int64(values[i]) - np.int64(values[i - 1])) & mask)
    return out


@njit(nogil=True)
def merge_order(seq_a, seq_b):
    """Merge two increasing uint64 streams; return (order, bad).

    ``order`` indexes the concatenation ``[a, b]`` in merged order (ties: ``a`` first, i.e. the
    stable order). ``bad`` is −1, or the index in ``[a, b]`` of the first element that is not
    strictly greater than its predecessor in its own stream (the merge is then not performed).
    """
    na = seq_a.shape[0]
    nb = seq_b.shape[0]
    order = np.empty(na + nb, dtype=np.int64)
    for i in range(1, na):
        if seq_a[i] <= seq_a[i - 1]:
            return order[:0], np.int64(i)
    for j in range(1, nb):
        if seq_b[j] <= seq_b[j - 1]:
            return order[:0], np.int64(na + j)
    i = 0
    j = 0
    k = 0
    while i < na and j < nb:
        if seq_b[j] < seq_a[i]:
            order[k] = na + j
            j += 1
        else:
            order[k] = i
            i += 1
        k += 1
    while i < na:
        order[k] = i
        i += 1
        k += 1
    while j < nb:
        order[k] = na + j
        j += 1
        k += 1
    return order, np.int64(-1)


@njit(nogil=True)
def gather_records(buf, offsets, lengths, out):
    """Copy the records ``offsets``/``lengths`` of ``buf`` back to back into ``out``, in the order given.

    ``out`` must hold ``lengths.sum()`` bytes. Each record is copied between two slice views
    (a loop LLVM vectorises, whatever the alignment: memory speed for records of any size).
    Returns the offset of each record in ``out``.
    """
    n = offsets.shape[0]
    out_off = np.empty(n, dtype=np.int64)
    total = np.int64(0)
    for k in range(n):
        out_off[k] = total
        total += lengths[k]
    for k in range(n):
        src = buf[offsets[k] : offsets[k] + lengths[k]]
        dst = out[out_off[k] : out_off[k] + lengths[k]]
        for w in range(min(src.shape[0], dst.shape[0])):
            dst[w] = src[w]
    return out_off
