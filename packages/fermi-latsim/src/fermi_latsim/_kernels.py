"""Numba kernels of the simulator: event contributions, datagram cuts, read-out dead time.

Plain arrays in, arrays out, explicit dtypes, no I/O, no random numbers. Each kernel has a
plain-Python twin of the same name and signature in :mod:`fermi_latsim._reference` that the
tests compare against (same bytes, same numbers).
"""

from __future__ import annotations

import numpy as np

from fermi_core.jit import njit
from fermi_halfpipe.format import CONTRIB_AEM, CONTRIB_GEM, CONTRIB_TEM
from fermi_l1.instrument import N_TOWERS as _N_TOWERS

__all__ = ["CONTRIB_AEM", "CONTRIB_GEM", "CONTRIB_TEM"]

_CON_HEADER = 8
_GEM_BODY = 60
NO_REASON = -1


@njit(nogil=True, inline="always")
def _put_header(out, p, ctype, source, length, hw):
    out[p] = ctype
    out[p + 1] = source
    out[p + 2] = (length >> 8) & 0xFF
    out[p + 3] = length & 0xFF
    h = hw & 0x1FFFF
    out[p + 4] = (h >> 24) & 0xFF
    out[p + 5] = (h >> 16) & 0xFF
    out[p + 6] = (h >> 8) & 0xFF
    out[p + 7] = h & 0xFF


@njit(nogil=True)
def contribution_sizes(strip_tower, s_lo, s_hi, log_tower, l_lo, l_hi, a_lo, a_hi):
    """Bytes of each event's contributions (GEM, one TEM per tower hit, AEM) and their number."""
    n = s_lo.size
    con_len = np.empty(n, np.int64)
    ncon = np.empty(n, np.int64)
    for i in range(n):
        size = _CON_HEADER + _GEM_BODY
        k = 1
        si, li = s_lo[i], l_lo[i]
        for t in range(_N_TOWERS):
            ns = 0
            while si < s_hi[i] and strip_tower[si] == t:
                ns += 1
                si += 1
            nl = 0
            while li < l_hi[i] and log_tower[li] == t:
                nl += 1
                li += 1
            if ns + nl > 0:
                size += _CON_HEADER + 4 + 4 * ns + 8 * nl
                k += 1
        na = a_hi[i] - a_lo[i]
        if na > 0:
            size += _CON_HEADER + 4 + 8 * na
            k += 1
        con_len[i] = size
        ncon[i] = k
    return con_len, ncon


@njit(nogil=True)
def write_records(
    header, gem, hw, strips, strip_tower, s_lo, s_hi, logs, log_tower, l_lo, l_hi, acd, a_lo, a_hi, lengths
):
    """Event records back to back: the 96-byte header, then GEM, TEM (by tower), AEM contributions.

    ``header`` (n, 96), ``gem`` (n, 60), ``strips`` (m, 4), ``logs`` (k, 8), ``acd`` (a, 8) are
    the big-endian byte images; strips and logs of an event are sorted by tower.
    """
    n = header.shape[0]
    out = np.empty(int(lengths.sum()), np.uint8)
    p = 0
    for i in range(n):
        out[p : p + 96] = header[i]
        p += 96
        _put_header(out, p, CONTRIB_GEM, 0, _CON_HEADER + _GEM_BODY, hw[i])
        out[p + 8 : p + 8 + _GEM_BODY] = gem[i]
        p += _CON_HEADER + _GEM_BODY
        si, li = s_lo[i], l_lo[i]
        for t in range(_N_TOWERS):
            s0 = si
            while si < s_hi[i] and strip_tower[si] == t:
                si += 1
            l0 = li
            while li < l_hi[i] and log_tower[li] == t:
                li += 1
            ns, nl = si - s0, li - l0
            if ns + nl == 0:
                continue
            length = _CON_HEADER + 4 + 4 * ns + 8 * nl
            _put_header(out, p, CONTRIB_TEM, t, length, hw[i])
            out[p + 8] = (ns >> 8) & 0xFF
            out[p + 9] = ns & 0xFF
            out[p + 10] = (nl >> 8) & 0xFF
            out[p + 11] = nl & 0xFF
            q = p + 12
            for j in range(s0, si):
                out[q : q + 4] = strips[j]
                q += 4
            for j in range(l0, li):
                out[q : q + 8] = logs[j]
                q += 8
            p = q
        na = a_hi[i] - a_lo[i]
        if na > 0:
            _put_header(out, p, CONTRIB_AEM, 0, _CON_HEADER + 4 + 8 * na, hw[i])
            out[p + 8] = (na >> 8) & 0xFF
            out[p + 9] = na & 0xFF
            out[p + 10] = 0
            out[p + 11] = 0
            q = p + 12
            for j in range(a_lo[i], a_hi[i]):
                out[q : q + 8] = acd[j]
                q += 8
            p = q
    return out


@njit(nogil=True)
def cut_datagrams(lengths, met, max_bytes, header_bytes, max_events, max_open_s):
    """Cut one EPU's event stream into datagrams: full at ``max_bytes``, counted or timed out.

    Returns ``(first, stop, reason)`` per datagram (events ``[first, stop)``); ``reason`` is why
    it was closed (4 full, 2 timed out, 3 counted out) or ``NO_REASON`` for the last one. An
    empty stream gives one empty datagram.
    """
    n = lengths.size
    firsts = np.empty(n + 1, np.int64)
    stops = np.empty(n + 1, np.int64)
    reasons = np.empty(n + 1, np.int64)
    m = 0
    k = 0
    while True:
        first = k
        size = header_bytes
        t_open = met[k] if k < n else 0.0
        reason = NO_REASON
        while k < n:
            if size + lengths[k] > max_bytes:
                reason = 4
                break
            if met[k] - t_open > max_open_s:
                reason = 2
                break
            size += lengths[k]
            k += 1
            if k - first >= max_events:
                reason = 3
                break
        if m == firsts.size:  # only if an event alone overflows a datagram (then it loops)
            break
        firsts[m], stops[m], reasons[m] = first, k, reason
        m += 1
        if k >= n:
            break
    return firsts[:m], stops[:m], reasons[:m]


@njit(nogil=True)
def dead_time(full_t, other_t, dead_s, last, readouts, lost):
    """Non-paralysable read-out dead time over two merged sorted trigger streams.

    ``full_t`` are the triggers whose events are simulated, ``other_t`` those read out but not
    simulated (rejected by the on-board filter). A trigger less than ``dead_s`` after the last
    read-out is discarded. ``last``, ``readouts`` and ``lost`` carry the state from the previous
    chunk. Returns, per event of ``full_t``: whether it was read out, the number of read-outs
    before it and of triggers discarded up to it; then the new ``(last, readouts, lost)``.
    """
    n, m = full_t.size, other_t.size
    accepted = np.zeros(n, np.bool_)
    before = np.zeros(n, np.int64)
    lost_at = np.zeros(n, np.int64)
    i = j = 0
    while i < n or j < m:
        if j >= m or (i < n and full_t[i] <= other_t[j]):
            t = full_t[i]
            if t - last < dead_s:
                lost += 1
            else:
                accepted[i] = True
                before[i] = readouts
                lost_at[i] = lost
                readouts += 1
                last = t
            i += 1
        else:
            t = other_t[j]
            if t - last < dead_s:
                lost += 1
            else:
                readouts += 1
                last = t
            j += 1
    return accepted, before, lost_at, last, readouts, lost
