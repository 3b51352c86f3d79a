"""Plain-Python twins of :mod:`fermi_latsim._kernels` (same names, same results), for the tests.

They follow the byte layouts of ``docs/formats/telemetry.md`` §4.4 the way the simulator first
wrote them (one event at a time with numpy byte strings), so the kernels are checked against an
independent formulation, not against themselves.
"""

from __future__ import annotations

import numpy as np

from fermi_l1 import instrument as lat
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


def trigger_vectors(n, s_event, s_tower, s_plane, s_view, l_event, l_tower, log_e, cal_lo, cal_hi):
    """Twin of :func:`fermi_latsim._kernels.trigger_vectors` (the dense array formulation)."""
    plane_hit = np.zeros((n, lat.N_TOWERS, lat.N_TKR_PLANES, lat.N_VIEWS), bool)
    plane_hit[s_event, s_tower, s_plane, s_view] = True
    xy = plane_hit.all(axis=3)
    three = xy[:, :, :-2] & xy[:, :, 1:-1] & xy[:, :, 2:]
    weights = 1 << np.arange(lat.N_TOWERS)
    cal_le = np.zeros((n, lat.N_TOWERS), bool)
    cal_he = np.zeros((n, lat.N_TOWERS), bool)
    cal_le[l_event[log_e >= cal_lo], l_tower[log_e >= cal_lo]] = True
    cal_he[l_event[log_e >= cal_hi], l_tower[log_e >= cal_hi]] = True
    return tuple((v * weights).sum(axis=1).astype(np.uint16) for v in (three.any(axis=2), cal_le, cal_he))


def cal_entries(event, vertex, axis, energy_per_layer, spread, layer_z, depth_steps, log_height):
    """Twin of :func:`fermi_latsim._kernels.cal_entries` (vectorised over particles)."""
    key_l, e_l, eo_l = [], [], []
    for layer in range(lat.N_CAL_LAYERS):
        for dz in depth_steps:
            z = layer_z[layer] + dz * log_height
            with np.errstate(divide="ignore", invalid="ignore"):
                step = (z - vertex[:, 2]) / axis[:, 2]
                p = vertex + step[:, None] * axis
            along_x = layer % 2 == 0
            for shift, share in ((0.0, 1.0 - 2 * spread), (-1.0, spread), (1.0, spread)):
                share /= len(depth_steps)
                if share <= 0:
                    continue
                d = shift * lat.CAL_COLUMN_PITCH_MM
                x = p[:, 0] + (0.0 if along_x else d)
                y = p[:, 1] + (d if along_x else 0.0)
                with np.errstate(invalid="ignore"):
                    tower, lay, col, along = lat.nearest_log(x, y, np.full(p.shape[0], z))
                e = energy_per_layer[:, layer] * share
                ok = (tower >= 0) & (lay == layer) & (e > 0) & np.isfinite(along)
                ev = np.asarray(event, np.int64)[ok]
                key_l.append(
                    ((ev * lat.N_TOWERS + tower[ok]) * lat.N_CAL_LAYERS + lay[ok]) * lat.N_CAL_COLUMNS
                    + col[ok]
                )
                e_l.append(e[ok])
                eo_l.append(e[ok] * along[ok])
    if not key_l:
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
    return tuple(np.concatenate(a) for a in (key_l, e_l, eo_l))


def track_hits(
    event, start, direction, first_plane, energy, scatter, nb_u, normals, layer_z, plane_x0, nb_prob
):
    """Twin of :func:`fermi_latsim._kernels.track_hits` (vectorised over tracks, numpy geometry)."""
    pos, d = np.array(start, np.float64), np.array(direction, np.float64)
    out = []
    for plane in range(layer_z.shape[0]):
        active = first_plane <= plane
        for view in range(layer_z.shape[1]):
            with np.errstate(divide="ignore", invalid="ignore"):
                step = (layer_z[plane, view] - pos[:, 2]) / d[:, 2]
                pos = np.where(active[:, None], pos + step[:, None] * d, pos)
                tower, strip = lat.locate_strip(pos[:, 0], pos[:, 1], np.full(pos.shape[0], view))
            ok = active & (tower >= 0)
            nb = ok & (nb_u[:, plane, view] < nb_prob)
            side = np.where(nb_u[:, plane, view][nb] < 0.5 * nb_prob, -1, 1)
            out.append((event[ok], tower[ok], np.full(ok.sum(), plane), np.full(ok.sum(), view), strip[ok]))
            out.append((event[nb], tower[nb], np.full(nb.sum(), plane), np.full(nb.sum(), view),
                        np.clip(strip[nb].astype(np.int64) + side, 0, lat.N_STRIPS - 1)))  # fmt: skip
        if scatter:
            with np.errstate(divide="ignore"):
                x = np.maximum(plane_x0[plane] / np.abs(d[:, 2]), 1e-6)
            theta0 = 13.6 / np.maximum(energy, 1.0) * np.sqrt(x) * (1.0 + 0.038 * np.log(x))
            ref = np.where(np.abs(d[:, 2:3]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
            e1 = np.cross(d, ref)
            e1 /= np.linalg.norm(e1, axis=1)[:, None]
            e2 = np.cross(d, e1)
            a = normals[:, plane, :] * theta0[:, None]
            new = d + a[:, :1] * e1 + a[:, 1:] * e2
            new /= np.linalg.norm(new, axis=1)[:, None]
            d = np.where(active[:, None], new, d)
    ev, tower, plane, view, strip = (
        np.concatenate([np.asarray(o[k], np.int64) for o in out]) for k in range(5)
    )
    return (
        ((ev * lat.N_TOWERS + tower) * layer_z.shape[0] + plane) * layer_z.shape[1] + view
    ) * lat.N_STRIPS + strip


def gather_records(records, lengths, sel):
    """Twin of :func:`fermi_latsim._kernels.gather_records` (one fancy-index gather)."""
    starts = np.cumsum(lengths) - lengths
    lens = lengths[sel]
    shift = np.repeat(starts[sel] - (np.cumsum(lens) - lens), lens)
    return records[np.arange(int(lens.sum()), dtype=np.int64) + shift]


def sync_point(full_t, other_t, dead_s):
    """Twin of :func:`fermi_latsim._kernels.sync_point` (merged by a stable sort)."""
    t = np.concatenate([full_t, other_t])
    is_full = np.concatenate([np.ones(len(full_t), bool), np.zeros(len(other_t), bool)])
    order = np.argsort(t, kind="stable")
    gaps = np.flatnonzero(np.diff(t[order]) >= dead_s) + 1
    if not gaps.size:
        return len(full_t), len(other_t)
    before = is_full[order[: gaps[0]]]
    return int(before.sum()), int((~before).sum())


def patch_records(records, lengths, gem_seq, livetime, discarded, delta_event, fields):
    """Twin of :func:`fermi_latsim._kernels.patch_records` (one event at a time, numpy bytes)."""
    values = (gem_seq, livetime, discarded, livetime & 0xFFFFFFFF, discarded & 0xFFFFFFFF, delta_event)
    start = 0
    for i, length in enumerate(np.asarray(lengths, np.int64)):
        for (off, width), v in zip(np.asarray(fields).tolist(), values, strict=True):
            records[start + off : start + off + width] = np.frombuffer(
                int(v[i]).to_bytes(8, "big")[8 - width :], np.uint8
            )
        hw = np.frombuffer(((int(gem_seq[i]) << 2) & 0x1FFFF).to_bytes(4, "big"), np.uint8)
        q = start + 96
        while q < start + length:
            records[q + 4 : q + 8] = hw
            q += int(records[q + 2]) * 256 + int(records[q + 3])
        start += int(length)


def interleave_packets(headers, payload, payload_length):
    """Twin of :func:`fermi_latsim._kernels.interleave_packets` (one fancy-index scatter)."""
    n, hl = headers.shape
    total = payload_length + hl
    start = np.cumsum(total) - total
    out = np.empty(int(total.sum()), np.uint8)
    out[(start[:, None] + np.arange(hl)).reshape(-1)] = headers.reshape(-1)
    out[np.arange(payload.size, dtype=np.int64) + np.repeat(hl * np.arange(1, n + 1), payload_length)] = (
        payload
    )
    return out
