"""Numba kernels of the simulator: trigger, event contributions, datagram cuts, read-out dead time.

Plain arrays in, arrays out, explicit dtypes, no I/O, no random numbers. Each kernel has a
plain-Python twin of the same name and signature in :mod:`fermi_latsim._reference` that the
tests compare against (same bytes, same numbers).
"""

from __future__ import annotations

import numpy as np

from fermi_core.jit import njit
from fermi_halfpipe.format import CONTRIB_AEM, CONTRIB_GEM, CONTRIB_TEM
from fermi_l1 import instrument as _lat
from fermi_l1.instrument import N_TKR_PLANES as _N_PLANES
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


@njit(nogil=True)
def trigger_vectors(n, s_event, s_tower, s_plane, s_view, l_event, l_tower, log_e, cal_lo, cal_hi):
    """GEM trigger vectors (uint16, bit = tower) of ``n`` events from their strips and logs.

    TKR: three x-y planes in a row hit in one tower; CAL_LE / CAL_HE: a log of the tower at or
    above ``cal_lo`` / ``cal_hi`` MeV. Strips and logs are in any order.
    """
    tkr = np.zeros(n, np.uint16)
    le = np.zeros(n, np.uint16)
    he = np.zeros(n, np.uint16)
    # bit plane*2+view of each (event, tower): which layers are hit
    layers = np.zeros((n, _N_TOWERS), np.int64)
    for i in range(s_event.size):
        layers[s_event[i], s_tower[i]] |= np.int64(1) << (s_plane[i] * 2 + s_view[i])
    for e in range(n):
        for t in range(_N_TOWERS):
            bits = layers[e, t]
            if bits == 0:
                continue
            run = 0
            for p in range(_N_PLANES):
                if (bits >> (2 * p)) & 3 == 3:
                    run += 1
                    if run >= 3:
                        tkr[e] |= np.uint16(1 << t)
                        break
                else:
                    run = 0
    for i in range(l_event.size):
        if log_e[i] >= cal_lo:
            le[l_event[i]] |= np.uint16(1 << l_tower[i])
        if log_e[i] >= cal_hi:
            he[l_event[i]] |= np.uint16(1 << l_tower[i])
    return tkr, le, he


_PITCH = _lat.TOWER_PITCH_MM
_NTX, _NTY = _lat.N_TOWERS_X, _lat.N_TOWERS_Y
_CAL_TOP = _lat.CAL_TOP_Z_MM
_CAL_LP = _lat.CAL_LAYER_PITCH_MM
_CAL_CP = _lat.CAL_COLUMN_PITCH_MM
_CAL_NC = _lat.N_CAL_COLUMNS
_CAL_NL = _lat.N_CAL_LAYERS
_CAL_HALF_LEN = _lat.CAL_LOG_LENGTH_MM / 2.0


@njit(nogil=True, inline="always")
def _tower_of(x, y):
    fx = np.floor(x / _PITCH + 2.0)
    fy = np.floor(y / _PITCH + 2.0)
    if fx >= 0 and fx < _NTX and fy >= 0 and fy < _NTY:
        return int(fy) * _NTX + int(fx)
    return -1


@njit(nogil=True)
def cal_entries(event, vertex, axis, energy_per_layer, spread, layer_z, depth_steps, log_height):
    """Log deposits of straight lines ``vertex + s * axis`` crossing the calorimeter layers.

    In each layer, at each depth step, the deposit ``energy_per_layer[i, layer]`` (shared among
    the steps) goes to the log nearest to the crossing point
    (:func:`fermi_l1.instrument.nearest_log`), ``spread`` of it to each neighbour across. Returns
    one entry per deposit, ordered by (layer, step, neighbour, particle): the key
    ``((event * 16 + tower) * 8 + layer) * 12 + column``, the energy and the energy times the
    longitudinal offset.
    """
    m = event.size
    n_steps = depth_steps.size
    cap = m * _CAL_NL * n_steps * 3
    key = np.empty(cap, np.int64)
    e_out = np.empty(cap, np.float64)
    eo_out = np.empty(cap, np.float64)
    k = 0
    shifts = (0.0, -1.0, 1.0)
    for layer in range(_CAL_NL):
        along_x = layer % 2 == 0
        for s in range(n_steps):
            z = layer_z[layer] + depth_steps[s] * log_height
            lay = int(np.floor((_CAL_TOP - z) / _CAL_LP))
            for j in range(3):
                share = (1.0 - 2 * spread) if j == 0 else spread
                share /= n_steps
                if share <= 0:
                    continue
                d = shifts[j] * _CAL_CP
                for i in range(m):
                    e = energy_per_layer[i, layer] * share
                    if not e > 0 or lay != layer:
                        continue
                    step = (z - vertex[i, 2]) / axis[i, 2] if axis[i, 2] != 0 else np.nan
                    px = vertex[i, 0] + step * axis[i, 0]
                    py = vertex[i, 1] + step * axis[i, 1]
                    x = px + (0.0 if along_x else d)
                    y = py + (d if along_x else 0.0)
                    tower = _tower_of(x, y)
                    if tower < 0:
                        continue
                    cx = (tower % _NTX - 1.5) * _PITCH
                    cy = (tower // _NTX - 1.5) * _PITCH
                    across = y - cy if along_x else x - cx
                    along = x - cx if along_x else y - cy
                    if not np.isfinite(along):
                        continue
                    col = np.floor(across / _CAL_CP + _CAL_NC / 2.0)
                    col = min(max(col, 0.0), _CAL_NC - 1.0)
                    along = min(max(along, -_CAL_HALF_LEN), _CAL_HALF_LEN)
                    key[k] = ((event[i] * _N_TOWERS + tower) * _CAL_NL + layer) * _CAL_NC + int(col)
                    e_out[k] = e
                    eo_out[k] = e * along
                    k += 1
    return key[:k], e_out[:k], eo_out[:k]


_WAFER_PITCH = _lat.WAFER_PITCH_MM
_STRIP_PITCH = _lat.STRIP_PITCH_MM
_SPW = _lat.STRIPS_PER_WAFER
_N_WAFERS = _lat.N_WAFERS
_N_STRIPS = _lat.N_STRIPS


@njit(nogil=True, inline="always")
def _local_strip(u):
    wafer = np.floor(u / _WAFER_PITCH + 2.0)
    offset = u - (wafer - 1.5) * _WAFER_PITCH
    in_wafer = np.floor(offset / _STRIP_PITCH + _SPW / 2.0)
    if wafer >= 0 and wafer < _N_WAFERS and in_wafer >= 0 and in_wafer < _SPW:
        return int(wafer) * _SPW + int(in_wafer)
    return -1


@njit(nogil=True, inline="always")
def _locate_strip(x, y, view):
    tower = _tower_of(x, y)
    if tower < 0:
        return -1, -1
    cx = (tower % _NTX - 1.5) * _PITCH
    cy = (tower // _NTX - 1.5) * _PITCH
    su = _local_strip(x - cx if view == 0 else y - cy)
    sv = _local_strip(y - cy if view == 0 else x - cx)
    if su < 0 or sv < 0:
        return -1, -1
    return tower, su


@njit(nogil=True)
def track_hits(
    event, start, direction, first_plane, energy, scatter, nb_u, normals, layer_z, plane_x0, nb_prob
):
    """Strip hits of tracks from ``start`` (at/above ``first_plane``) down through the tracker.

    Each track crosses the silicon layers ``layer_z`` (planes x views) below its first plane
    and fires the strip it crosses (:func:`fermi_l1.instrument.locate_strip`), and a
    neighbour when ``nb_u < nb_prob``: the one below if ``nb_u < nb_prob / 2``, else above. With ``scatter`` it is
    deflected after each plane by Gaussian projected angles ``normals`` times the Highland width
    of ``plane_x0 / |u_z|`` X0 at ``energy``. The random numbers are drawn by the caller,
    ``(m, planes, views)`` / ``(m, planes, 2)``. Returns the event-strip key of each hit,
    ``((event * 16 + tower) * planes + plane) * views + view) * 1536 + strip``
    (:func:`fermi_latsim.detector.event_strip_key`).
    """
    m = event.size
    n_planes, n_views = layer_z.shape
    cap = m * n_planes * n_views * 2
    out = np.empty(cap, np.int64)
    k = 0
    for i in range(m):
        px, py, pz = start[i, 0], start[i, 1], start[i, 2]
        dx, dy, dz = direction[i, 0], direction[i, 1], direction[i, 2]
        for plane in range(n_planes):
            if first_plane[i] > plane:
                continue
            for view in range(n_views):
                step = (layer_z[plane, view] - pz) / dz if dz != 0 else np.nan
                px, py, pz = px + step * dx, py + step * dy, pz + step * dz
                tower, strip = _locate_strip(px, py, view)
                if tower < 0:
                    continue
                base = (((event[i] * _N_TOWERS + tower) * n_planes + plane) * n_views + view) * _N_STRIPS
                out[k] = base + strip
                k += 1
                if nb_u[i, plane, view] < nb_prob:
                    nb = strip + (-1 if nb_u[i, plane, view] < 0.5 * nb_prob else 1)
                    out[k] = base + min(max(nb, 0), _N_STRIPS - 1)
                    k += 1
            if scatter:
                x0 = max(plane_x0[plane] / abs(dz), 1e-6)
                theta0 = 13.6 / max(energy[i], 1.0) * np.sqrt(x0) * (1.0 + 0.038 * np.log(x0))
                if abs(dz) < 0.9:  # e1 = d x (0, 0, 1)
                    ex, ey, ez = dy, -dx, 0.0
                else:  # e1 = d x (1, 0, 0)
                    ex, ey, ez = 0.0, dz, -dy
                norm = np.sqrt(ex * ex + ey * ey + ez * ez)
                ex, ey, ez = ex / norm, ey / norm, ez / norm
                fx, fy, fz = dy * ez - dz * ey, dz * ex - dx * ez, dx * ey - dy * ex  # e2 = d x e1
                a, b = normals[i, plane, 0] * theta0, normals[i, plane, 1] * theta0
                dx, dy, dz = dx + a * ex + b * fx, dy + a * ey + b * fy, dz + a * ez + b * fz
                norm = np.sqrt(dx * dx + dy * dy + dz * dz)
                dx, dy, dz = dx / norm, dy / norm, dz / norm
    return out[:k]


@njit(nogil=True)
def gather_records(records, lengths, sel):
    """The records ``sel`` (indices, in order) of ``records`` (back to back, ``lengths``) back to back."""
    starts = np.empty(lengths.size, np.int64)
    p = 0
    for i in range(lengths.size):
        starts[i] = p
        p += lengths[i]
    total = 0
    for i in sel:
        total += lengths[i]
    out = np.empty(total, np.uint8)
    q = 0
    for i in sel:
        out[q : q + lengths[i]] = records[starts[i] : starts[i] + lengths[i]]
        q += lengths[i]
    return out


@njit(nogil=True)
def sync_point(full_t, other_t, dead_s):
    """Where a stretch's read-out dead time stops depending on the state before it.

    In the merged time order of the two sorted trigger streams (``full_t`` first on ties, as
    :func:`dead_time`), the first trigger after the first one that comes at least ``dead_s`` after
    the trigger before it is read out whatever happened before the stretch, and so is everything
    after it decided the same way. Returns ``(i, j)``: the triggers of ``full_t`` and ``other_t``
    before that trigger (the prefix, whose fate depends on the previous stretch); ``(n, m)`` if
    there is none.
    """
    n, m = full_t.size, other_t.size
    i = j = 0
    prev = np.nan
    while i < n or j < m:
        take_full = j >= m or (i < n and full_t[i] <= other_t[j])
        t = full_t[i] if take_full else other_t[j]
        if (i + j) > 0 and t - prev >= dead_s:
            return i, j
        prev = t
        if take_full:
            i += 1
        else:
            j += 1
    return n, m


@njit(nogil=True, inline="always")
def _put_be(out, p, value, width):
    for b in range(width):
        out[p + width - 1 - b] = (value >> (8 * b)) & 0xFF


@njit(nogil=True)
def patch_records(records, lengths, gem_seq, livetime, discarded, delta_event, fields):
    """Write the run-dependent counters into event records (back to back, ``lengths``) in place.

    Per event: the header's GEM sequence, livetime and discarded counters, the GEM contribution's
    live, discarded and delta-event fields, and the hardware sequence number
    ``(gem_seq << 2) & 0x1FFFF`` in every contribution header. ``fields`` (6, 2) holds the byte
    offset in the record and width of the six fields, in that order.
    """
    p = 0
    for i in range(lengths.size):
        seq, live, disc = gem_seq[i], livetime[i], discarded[i]
        _put_be(records, p + fields[0, 0], seq, fields[0, 1])
        _put_be(records, p + fields[1, 0], live, fields[1, 1])
        _put_be(records, p + fields[2, 0], disc, fields[2, 1])
        _put_be(records, p + fields[3, 0], live & 0xFFFFFFFF, fields[3, 1])
        _put_be(records, p + fields[4, 0], disc & 0xFFFFFFFF, fields[4, 1])
        _put_be(records, p + fields[5, 0], delta_event[i], fields[5, 1])
        hw = (seq << 2) & 0x1FFFF
        q = p + 96
        end = p + lengths[i]
        while q < end:
            _put_be(records, q + 4, hw, 4)
            q += (np.int64(records[q + 2]) << 8) | np.int64(records[q + 3])
        p = end


@njit(nogil=True)
def interleave_packets(headers, payload, payload_length):
    """CCSDS packets back to back: each 14-byte ``headers`` row followed by its payload bytes."""
    n, hl = headers.shape
    out = np.empty(n * hl + payload.size, np.uint8)
    p = q = 0
    for i in range(n):
        out[p : p + hl] = headers[i]
        p += hl
        m = payload_length[i]
        out[p : p + m] = payload[q : q + m]
        p += m
        q += m
    return out
