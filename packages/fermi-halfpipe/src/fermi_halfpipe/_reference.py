"""Plain-numpy twins of :mod:`fermi_halfpipe._kernels` (the tests compare the two).

Written independently of the kernels: the datagram walk reads fields through ``int.from_bytes``
in plain Python (slow, for small test inputs); unrolling is a cumulative sum; the merge is the
"concatenate + stable argsort" of the old halfPipe's ``sort`` step.
"""

from __future__ import annotations

import numpy as np

from fermi_halfpipe import _kernels as K


def _be(buf: np.ndarray, p: int, n: int) -> int:
    return int.from_bytes(buf[p : p + n].tobytes(), "big")


def _contributions(buf: np.ndarray, p: int, end: int, n_con: int) -> tuple[int, int, int]:
    k, hw, q = 0, -1, p
    while q < end:
        if end - q < 8:
            return K.DGM_BAD_CONTRIBUTION, q, hw
        ctype, con_len = int(buf[q]), _be(buf, q + 2, 2)
        if con_len < 8 or con_len % 4 or q + con_len > end:
            return K.DGM_BAD_CONTRIBUTION, q, hw
        summary = _be(buf, q + 4, 4) & 0x1FFFF
        if k == 0:
            if ctype != 1 or con_len != 68:
                return K.DGM_NO_GEM, q, hw
            hw = summary
        elif summary != hw:
            return K.DGM_SUMMARY_MISMATCH, q, hw
        if ctype == 2:
            if con_len < 12 or con_len != 12 + 4 * _be(buf, q + 8, 2) + 8 * _be(buf, q + 10, 2):
                return K.DGM_BODY_LENGTH, q, hw
        elif ctype == 3:
            if con_len < 12 or con_len != 12 + 8 * _be(buf, q + 8, 2):
                return K.DGM_BODY_LENGTH, q, hw
        elif ctype != 1:
            return K.DGM_BAD_CONTRIBUTION, q, hw
        q += con_len
        k += 1
    if k != n_con or k == 0:
        return K.DGM_CONTRIBUTION_COUNT, p, hw
    return K.DGM_OK, 0, hw


def walk_datagrams(buf: np.ndarray, dgm_off: np.ndarray, dgm_len: np.ndarray, capacity: int) -> tuple:
    """Twin of :func:`fermi_halfpipe._kernels.walk_datagrams`."""
    events: list[tuple[int, int, int, int]] = []
    m = len(dgm_off)
    status = np.zeros(m, dtype=np.int64)
    bad_offset = np.zeros(m, dtype=np.int64)
    n_good = np.zeros(m, dtype=np.int64)
    for d in range(m):
        s, ln = int(dgm_off[d]), int(dgm_len[d])
        e = s + ln
        if ln < 32:
            status[d] = K.DGM_TRUNCATED
            continue
        if _be(buf, s, 4) != 0x201F1010:
            status[d] = K.DGM_BAD_IDENTITY
            continue
        if _be(buf, s + 4, 4) != ln:
            status[d], bad_offset[d] = K.DGM_BAD_LENGTH, 4
            continue
        version = int(buf[s + 27])
        if version not in (1, 2):
            status[d], bad_offset[d] = K.DGM_BAD_VERSION, 27
            continue
        head = {1: 32, 2: 48}[version]
        if ln < head:
            status[d], bad_offset[d] = K.DGM_TRUNCATED, 32
            continue
        p, code, where = s + head, K.DGM_OK, 0
        for _ in range(_be(buf, s + 28, 4)):
            if e - p < 96 or _be(buf, p, 4) != 0x104F0010:
                code, where = (K.DGM_BAD_EVENT_IDENTITY if e - p >= 4 else K.DGM_BAD_EVENT_LENGTH), p
                break
            length = _be(buf, p + 4, 4)
            if length < 96 + 68 or length % 4 or p + length > e:
                code, where = K.DGM_BAD_EVENT_LENGTH, p + 4
                break
            c, at, hw = _contributions(buf, p + 96, p + length, _be(buf, p + 88, 2))
            if c != K.DGM_OK:
                code, where = c, at
                break
            events.append((p, length, d, hw))
            n_good[d] += 1
            p += length
        if code == K.DGM_OK and p != e:
            code, where = K.DGM_TRAILING_BYTES, p
        status[d] = code
        bad_offset[d] = where - s if code != K.DGM_OK else 0
    arr = np.array(events[:capacity], dtype=np.int64).reshape(-1, 4)
    return arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], status, bad_offset, n_good


def unroll(values: np.ndarray, bits: int, start: int) -> np.ndarray:
    """Twin of :func:`fermi_halfpipe._kernels.unroll`."""
    values = np.asarray(values, dtype=np.int64)
    if values.size == 0:
        return np.empty(0, dtype=np.int64)
    steps = np.diff(values) % (1 << bits)
    return np.concatenate([[start], start + np.cumsum(steps)]).astype(np.int64)


def merge_order(seq_a: np.ndarray, seq_b: np.ndarray) -> tuple[np.ndarray, int]:
    """Twin of :func:`fermi_halfpipe._kernels.merge_order`: concatenate + stable argsort."""
    for base, s in ((0, seq_a), (len(seq_a), seq_b)):
        bad = np.flatnonzero(np.diff(s.astype(np.uint64)) == 0) if s.size > 1 else np.empty(0, int)
        down = np.flatnonzero(s[1:] < s[:-1]) if s.size > 1 else np.empty(0, int)
        first = np.concatenate([bad, down])
        if first.size:
            return np.empty(0, dtype=np.int64), int(base + first.min() + 1)
    order = np.argsort(np.concatenate([seq_a, seq_b]), kind="stable")
    return order.astype(np.int64), -1


def gather_records(buf: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Twin of :func:`fermi_halfpipe._kernels.gather_records` (vectorised numpy gather)."""
    out_off = np.cumsum(lengths) - lengths
    gather = np.arange(int(lengths.sum()), dtype=np.int64) + np.repeat(offsets - out_off, lengths)
    out[: gather.size] = buf[gather]
    return out_off.astype(np.int64)
