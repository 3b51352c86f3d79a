"""Plain-Python twins of :mod:`fermi_latsim._kernels` (same names, same results), for the tests.

They follow the byte layouts of ``docs/formats/telemetry.md`` §4.4 the way the simulator first
wrote them (one event at a time with numpy byte strings), so the kernels are checked against an
independent formulation, not against themselves.
"""

from __future__ import annotations

import numpy as np

from fermi_latsim._kernels import CONTRIB_AEM, CONTRIB_GEM, CONTRIB_TEM, NO_REASON


def _header(ctype: int, source: int, length: int, hw: int) -> bytes:
    return (
        np.array([ctype, source], "u1").tobytes()
        + np.array([length], ">u2").tobytes()
        + np.array([hw & 0x1FFFF], ">u4").tobytes()
    )


def _contributions(i, gem, hw, strips, strip_tower, s_lo, s_hi, logs, log_tower, l_lo, l_hi, acd, a_lo, a_hi):
    parts = [_header(CONTRIB_GEM, 0, 68, int(hw[i])) + gem[i].tobytes()]
    st, tw_s = strips[s_lo[i] : s_hi[i]], strip_tower[s_lo[i] : s_hi[i]]
    lg, tw_l = logs[l_lo[i] : l_hi[i]], log_tower[l_lo[i] : l_hi[i]]
    for tower in np.union1d(tw_s, tw_l):
        ss, ll = st[tw_s == tower], lg[tw_l == tower]
        body = np.array([len(ss), len(ll)], ">u2").tobytes() + ss.tobytes() + ll.tobytes()
        parts.append(_header(CONTRIB_TEM, int(tower), 8 + len(body), int(hw[i])) + body)
    if a_hi[i] > a_lo[i]:
        aa = acd[a_lo[i] : a_hi[i]]
        body = np.array([len(aa), 0], ">u2").tobytes() + aa.tobytes()
        parts.append(_header(CONTRIB_AEM, 0, 8 + len(body), int(hw[i])) + body)
    return parts


def contribution_sizes(strip_tower, s_lo, s_hi, log_tower, l_lo, l_hi, a_lo, a_hi):
    """Twin of :func:`fermi_latsim._kernels.contribution_sizes`."""
    n = s_lo.size
    con_len = np.empty(n, np.int64)
    ncon = np.empty(n, np.int64)
    for i in range(n):
        towers = np.union1d(strip_tower[s_lo[i] : s_hi[i]], log_tower[l_lo[i] : l_hi[i]])
        size = 68
        for t in towers:
            ns = int(np.sum(strip_tower[s_lo[i] : s_hi[i]] == t))
            nl = int(np.sum(log_tower[l_lo[i] : l_hi[i]] == t))
            size += 12 + 4 * ns + 8 * nl
        na = int(a_hi[i] - a_lo[i])
        con_len[i] = size + (12 + 8 * na if na else 0)
        ncon[i] = 1 + towers.size + (1 if na else 0)
    return con_len, ncon


def write_records(
    header, gem, hw, strips, strip_tower, s_lo, s_hi, logs, log_tower, l_lo, l_hi, acd, a_lo, a_hi, lengths
):
    """Twin of :func:`fermi_latsim._kernels.write_records`."""
    out = []
    for i in range(header.shape[0]):
        out.append(header[i].tobytes())
        out += _contributions(
            i, gem, hw, strips, strip_tower, s_lo, s_hi, logs, log_tower, l_lo, l_hi, acd, a_lo, a_hi
        )
    data = np.frombuffer(b"".join(out), np.uint8)
    if data.size != int(np.sum(lengths)):
        raise ValueError(f"records are {data.size} bytes, lengths say {int(np.sum(lengths))}")
    return data.copy()


def cut_datagrams(lengths, met, max_bytes, header_bytes, max_events, max_open_s):
    """Twin of :func:`fermi_latsim._kernels.cut_datagrams`."""
    out = []
    n = len(lengths)
    k = 0
    while True:
        first, size = k, header_bytes
        t_open = met[k] if k < n else 0.0
        reason = NO_REASON
        while k < n:
            if size + lengths[k] > max_bytes:
                reason = 4
                break
            if met[k] - t_open > max_open_s:
                reason = 2
                break
            size += int(lengths[k])
            k += 1
            if k - first >= max_events:
                reason = 3
                break
        out.append((first, k, reason))
        if k >= n:
            break
    a = np.asarray(out, np.int64).reshape(-1, 3)
    return a[:, 0].copy(), a[:, 1].copy(), a[:, 2].copy()


def dead_time(full_t, other_t, dead_s, last, readouts, lost):
    """Twin of :func:`fermi_latsim._kernels.dead_time`."""
    t = np.concatenate([full_t, other_t])
    is_full = np.concatenate([np.ones(len(full_t), bool), np.zeros(len(other_t), bool)])
    order = np.argsort(t, kind="stable")  # ties: the simulated event first, as the kernel
    accepted, before, lost_at = [], [], []
    for k in order:
        ok = t[k] - last >= dead_s
        if is_full[k]:
            accepted.append(ok)
            before.append(readouts if ok else 0)
            lost_at.append(lost if ok else 0)
        if ok:
            readouts += 1
            last = t[k]
        else:
            lost += 1
    return (
        np.asarray(accepted, bool),
        np.asarray(before, np.int64),
        np.asarray(lost_at, np.int64),
        last,
        readouts,
        lost,
    )
