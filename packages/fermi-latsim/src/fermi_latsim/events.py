"""Encode the detector response of one run into event datagrams of the two EPUs.

Byte layouts are fermi-halfpipe's encoder (:mod:`fermi_halfpipe.datagram`, format version 1);
this module decides what goes in them: the event header's counters and time tones, the GEM,
TEM and AEM contributions, which EPU each event goes to, and when a datagram is closed (full at
64 KiB, counted out, or timed out).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fermi_halfpipe.datagram import DatagramContext, contribution_header, encode_datagram, encode_events
from fermi_halfpipe.format import (
    CLOSE_CONTINUE,
    CLOSE_STOP,
    CONTRIB_AEM,
    CONTRIB_GEM,
    CONTRIB_TEM,
    DATAGRAM_HEADER,
    EVENT_HEADER_DTYPE,
    MAX_DATAGRAM,
    NOMINAL_TICKS_PER_SECOND,
    OPEN_CONTINUE,
    OPEN_START,
)
from fermi_latsim.detector import Response

TICK_MOD = 1 << 25
DEAD_TICKS = 530  # 26.5 us at 20 MHz
REASON_OPERATOR, REASON_TIMED_OUT, REASON_COUNTED_OUT, REASON_FULL = 0, 2, 3, 4
FILTER_GAMMA, FILTER_MIP = 1, 2

GEM_DTYPE = np.dtype(
    [
        ("tkr", ">u2"),
        ("roi", ">u2"),
        ("cal_le", ">u2"),
        ("cal_he", ">u2"),
        ("cno", ">u2"),
        ("cond", "u1"),
        ("missed", "u1"),
        ("acd_xzm", ">u2"),
        ("acd_xzp", ">u2"),
        ("acd_yzm", ">u2"),
        ("acd_yzp", ">u2"),
        ("acd_xy", ">u4"),
        ("acd_rbn", ">u2"),
        ("acd_na", ">u2"),
        ("live", ">u4"),
        ("prescaled", ">u4"),
        ("discarded", ">u4"),
        ("cond_times", ">u4"),
        ("trigger_time", ">u4"),
        ("pps_sec", ">u4"),
        ("pps_ticks", ">u4"),
        ("delta_event", ">u2"),
        ("delta_window", ">u2"),
    ]
)
assert GEM_DTYPE.itemsize == 60
_STRIP_OUT = np.dtype([("layer", "u1"), ("view", "u1"), ("strip", ">u2")])
_LOG_OUT = np.dtype(
    [("layer", "u1"), ("column", "u1"), ("ranges", "u1"), ("reserved", "u1"), ("pos", ">u2"), ("neg", ">u2")]
)
_ACD_OUT = np.dtype([("id", ">u2"), ("flags", "u1"), ("ranges", "u1"), ("a", ">u2"), ("b", ">u2")])


@dataclass
class DatagramPolicy:
    """When an EPU closes a datagram: at 64 KiB (full), after ``max_events`` or ``max_open_s``."""

    max_events: int = 256
    max_open_s: float = 2.0


@dataclass
class EncodedRun:
    """One run's datagrams per EPU crate, their packet times, and per-event bookkeeping."""

    run: int
    datagrams: dict[int, list[bytes]]
    times: dict[int, np.ndarray]  # MET of each datagram (its closing time)
    gem_seq: np.ndarray  # per event of the response (time order)
    epu: np.ndarray
    met: np.ndarray  # quantised event time (50 ns ticks), as decoders compute it
    datagram_of_event: np.ndarray  # index of the datagram within its EPU


def _acd_lists(resp: Response) -> dict[str, np.ndarray]:
    n = len(resp)
    out = {
        k: np.zeros(n, np.uint64) for k in ("acd_xzm", "acd_xzp", "acd_yzm", "acd_yzp", "acd_xy", "acd_rbn")
    }
    ids = resp.acd["id"].astype(np.int64)
    face, row, col = ids // 100, (ids // 10) % 10, ids % 10
    bit = np.where(row == 3, 15, row * 5 + col)
    for name, sel in (
        ("acd_xy", face == 0),
        ("acd_xzm", face == 1),
        ("acd_yzm", face == 2),
        ("acd_xzp", face == 3),
        ("acd_yzp", face == 4),
        ("acd_rbn", face == 5),
    ):
        b = np.where(face == 5, ids - 500, bit)[sel]
        np.bitwise_or.at(out[name], resp.acd["event"][sel], np.left_shift(np.uint64(1), b.astype(np.uint64)))
    return out


def encode_run(
    resp: Response,
    run: int,
    rng: np.random.Generator,
    stop_met: float,
    policy: DatagramPolicy | None = None,
    epus: tuple[int, ...] = (0, 1),
    ground_id: int = 0x0000BEEF,
) -> EncodedRun:
    """Encode the events of ``resp`` (all inside one run started at MET ``run``) into datagrams.

    Events go to the EPUs of ``epus`` at random (one EPU only reproduces the "run with one EPU"
    fault); each EPU's stream is cut into datagrams by ``policy`` and the last one closes the run
    (action stop) at ``stop_met``.
    """
    policy = policy or DatagramPolicy()
    n = len(resp)
    elapsed = np.rint((resp.met - run) * NOMINAL_TICKS_PER_SECOND).astype(np.int64)
    if n and (np.any(elapsed < 0) or np.any(np.diff(elapsed) < 0)):
        raise ValueError(f"run {run}: events must be in time order and after the run start")
    gem_seq = np.arange(n, dtype=np.int64)
    sec_rel = elapsed // NOMINAL_TICKS_PER_SECOND
    h = np.zeros(n, EVENT_HEADER_DTYPE)
    h["gem_seq"] = gem_seq
    h["elapsed"] = elapsed
    h["livetime"] = elapsed - DEAD_TICKS * gem_seq
    h["discarded"] = resp.discarded
    h["trigger_ticks"] = elapsed % TICK_MOD
    h["cur_tone_sec"] = run + sec_rel
    h["cur_tone_ticks"] = (sec_rel * NOMINAL_TICKS_PER_SECOND) % TICK_MOD
    h["cur_tone_hacks"] = sec_rel % 65536
    h["prev_tone_sec"] = run + sec_rel - 1
    h["prev_tone_ticks"] = ((sec_rel - 1) * NOMINAL_TICKS_PER_SECOND) % TICK_MOD
    h["prev_tone_hacks"] = (sec_rel - 1) % 65536
    h["cur_tone_flags"] = 1
    h["prev_tone_flags"] = 1
    has_acd = np.zeros(n, bool)
    has_acd[resp.acd["event"]] = True
    h["filter_status"] = np.where(has_acd, FILTER_MIP, FILTER_GAMMA)

    gem = np.zeros(n, GEM_DTYPE)
    gem["tkr"], gem["roi"] = resp.tkr_vector, resp.roi_vector
    gem["cal_le"], gem["cal_he"] = resp.cal_le_vector, resp.cal_he_vector
    gem["cond"] = (
        np.where(has_acd, 1, 0)
        | np.where(resp.tkr_vector > 0, 2, 0)
        | np.where(resp.cal_le_vector > 0, 4, 0)
        | np.where(resp.cal_he_vector > 0, 8, 0)
    )
    for name, values in _acd_lists(resp).items():
        gem[name] = values
    gem["live"] = (h["livetime"] & 0xFFFFFFFF).astype(np.uint32)
    gem["discarded"] = (resp.discarded & 0xFFFFFFFF).astype(np.uint32)
    gem["trigger_time"] = elapsed % TICK_MOD
    gem["pps_sec"] = run + sec_rel
    gem["pps_ticks"] = h["cur_tone_ticks"]
    gem["delta_event"] = np.minimum(np.diff(elapsed, prepend=0), 65535)
    hw = (gem_seq << 2) & 0x1FFFF

    s_lo = np.searchsorted(resp.strips["event"], np.arange(n))
    s_hi = np.searchsorted(resp.strips["event"], np.arange(n), side="right")
    l_lo = np.searchsorted(resp.logs["event"], np.arange(n))
    l_hi = np.searchsorted(resp.logs["event"], np.arange(n), side="right")
    a_lo = np.searchsorted(resp.acd["event"], np.arange(n))
    a_hi = np.searchsorted(resp.acd["event"], np.arange(n), side="right")
    strips = np.zeros(resp.strips.size, _STRIP_OUT)
    strips["layer"], strips["view"], strips["strip"] = (
        resp.strips["plane"],
        resp.strips["view"],
        resp.strips["strip"],
    )
    logs = np.zeros(resp.logs.size, _LOG_OUT)
    logs["layer"], logs["column"] = resp.logs["layer"], resp.logs["column"]
    logs["ranges"] = (resp.logs["range_pos"] << 4) | resp.logs["range_neg"]
    logs["pos"], logs["neg"] = resp.logs["adc_pos"], resp.logs["adc_neg"]
    acd = np.zeros(resp.acd.size, _ACD_OUT)
    acd["id"], acd["flags"], acd["ranges"] = resp.acd["id"], resp.acd["flags"], resp.acd["ranges"]
    acd["a"], acd["b"] = resp.acd["pha_a"], resp.acd["pha_b"]
    log_order = np.lexsort((resp.logs["column"], resp.logs["layer"], resp.logs["tower"], resp.logs["event"]))
    logs, log_tower = logs[log_order], resp.logs["tower"][log_order]
    log_event = resp.logs["event"][log_order]
    l_lo = np.searchsorted(log_event, np.arange(n))
    l_hi = np.searchsorted(log_event, np.arange(n), side="right")

    contribs = []
    ncon = np.empty(n, np.int64)
    for i in range(n):
        parts = [contribution_header(CONTRIB_GEM, 0, 68, int(hw[i])) + gem[i : i + 1].tobytes()]
        st, tw_s = strips[s_lo[i] : s_hi[i]], resp.strips["tower"][s_lo[i] : s_hi[i]]
        lg, tw_l = logs[l_lo[i] : l_hi[i]], log_tower[l_lo[i] : l_hi[i]]
        for tower in np.union1d(tw_s, tw_l):
            ss, ll = st[tw_s == tower], lg[tw_l == tower]
            body = np.array([ss.size, ll.size], ">u2").tobytes() + ss.tobytes() + ll.tobytes()
            parts.append(contribution_header(CONTRIB_TEM, int(tower), 8 + len(body), int(hw[i])) + body)
        if a_hi[i] > a_lo[i]:
            aa = acd[a_lo[i] : a_hi[i]]
            body = np.array([aa.size, 0], ">u2").tobytes() + aa.tobytes()
            parts.append(contribution_header(CONTRIB_AEM, 0, 8 + len(body), int(hw[i])) + body)
        contribs.append(b"".join(parts))
        ncon[i] = len(parts)
    h["n_contributions"] = ncon
    records, lengths = encode_events(h, contribs)
    starts = np.cumsum(lengths) - lengths

    epu = np.asarray(epus, np.int64)[rng.integers(0, len(epus), n)] if n else np.zeros(0, np.int64)
    met_q = run + elapsed / NOMINAL_TICKS_PER_SECOND
    dgms: dict[int, list[bytes]] = {}
    times: dict[int, np.ndarray] = {}
    dgm_of_event = np.zeros(n, np.int64)
    for crate in epus:
        ctx = DatagramContext(run=run, crate=crate, ground_id=ground_id)
        sel = np.flatnonzero(epu == crate)
        out: list[bytes] = []
        tout: list[float] = []
        k = 0
        open_reason = REASON_OPERATOR
        while True:
            first = k
            size = DATAGRAM_HEADER
            t_open = met_q[sel[k]] if k < sel.size else stop_met
            reason = None
            while k < sel.size:
                i = sel[k]
                if size + lengths[i] > MAX_DATAGRAM:
                    reason = REASON_FULL
                    break
                if met_q[i] - t_open > policy.max_open_s:
                    reason = REASON_TIMED_OUT
                    break
                size += int(lengths[i])
                k += 1
                if k - first >= policy.max_events:
                    reason = REASON_COUNTED_OUT
                    break
            last = k >= sel.size
            idx = sel[first:k]
            body = (
                records[starts[idx[0]] : starts[idx[-1]] + lengths[idx[-1]]]
                if idx.size
                else np.empty(0, np.uint8)
            )
            if idx.size and not np.array_equal(idx, np.arange(idx[0], idx[0] + idx.size)):
                body = np.concatenate([records[starts[j] : starts[j] + lengths[j]] for j in idx])
            dgm_of_event[idx] = len(out)
            out.append(
                encode_datagram(
                    ctx,
                    len(out),
                    body,
                    int(idx.size),
                    open_action=OPEN_START if not out else OPEN_CONTINUE,
                    close_action=CLOSE_STOP if last else CLOSE_CONTINUE,
                    open_reason=open_reason,
                    close_reason=REASON_OPERATOR if last else reason,
                )
            )
            tout.append(stop_met if last else (met_q[idx[-1]] if idx.size else t_open) + 1e-3)
            open_reason = reason if reason is not None else REASON_OPERATOR
            if last:
                break
        dgms[crate] = out
        times[crate] = np.asarray(tout)
    return EncodedRun(run, dgms, times, gem_seq, epu.astype(np.int8), met_q, dgm_of_event)
