"""Encode the detector response of one run into event datagrams of the two EPUs.

Byte layouts are fermi-halfpipe's encoder (:mod:`fermi_halfpipe.datagram`, format version 1);
this module decides what goes in them: the event header's counters and time tones, the GEM,
TEM and AEM contributions, which EPU each event goes to, and when a datagram is closed (full at
64 KiB, counted out, or timed out).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fermi_halfpipe.datagram import DatagramContext, encode_datagram
from fermi_halfpipe.format import (
    CLOSE_CONTINUE,
    CLOSE_STOP,
    EVENT_HEADER,
    EVENT_HEADER_DTYPE,
    EVENT_IDENTITY,
    MAX_DATAGRAM,
    NOMINAL_TICKS_PER_SECOND,
    OPEN_CONTINUE,
    OPEN_START,
)
from fermi_halfpipe.keys import ConfigKeys
from fermi_latsim import _kernels
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


def event_headers(
    resp: Response,
    run: int,
    *,
    gem_seq0: int = 0,
    readouts_before: np.ndarray | None = None,
    dead_ticks: int = DEAD_TICKS,
    prev_elapsed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Event headers, GEM contributions and hardware sequence numbers of ``resp``'s events.

    Parameters
    ----------
    resp
        Events of one run (or of a stretch of it), in time order, after the run start ``run``.
    gem_seq0
        GEM sequence number of the first event (events before it in the run).
    readouts_before
        Per event, the read-outs of the run before it (events that the on-board filter rejected
        included); the livetime counter is the elapsed time less ``dead_ticks`` per read-out.
        Default: the events before it, ``gem_seq``.
    prev_elapsed
        Elapsed ticks of the event before the first (for the GEM's delta-event field).
    """
    n = len(resp)
    elapsed = np.rint((resp.met - run) * NOMINAL_TICKS_PER_SECOND).astype(np.int64)
    if n and (np.any(elapsed < 0) or np.any(np.diff(elapsed) < 0)):
        raise ValueError(f"run {run}: events must be in time order and after the run start")
    gem_seq = gem_seq0 + np.arange(n, dtype=np.int64)
    before = gem_seq if readouts_before is None else np.asarray(readouts_before, np.int64)
    sec_rel = elapsed // NOMINAL_TICKS_PER_SECOND
    h = np.zeros(n, EVENT_HEADER_DTYPE)
    h["gem_seq"] = gem_seq
    h["elapsed"] = elapsed
    h["livetime"] = elapsed - dead_ticks * before
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
    gem["delta_event"] = np.minimum(np.diff(elapsed, prepend=prev_elapsed), 65535)
    hw = (gem_seq << 2) & 0x1FFFF
    return h, gem, hw


def _patch_fields() -> np.ndarray:
    head = [(int(EVENT_HEADER_DTYPE.fields[k][1]), EVENT_HEADER_DTYPE[k].itemsize)
            for k in ("gem_seq", "livetime", "discarded")]  # fmt: skip
    gem_body = EVENT_HEADER + 8  # the GEM contribution comes first, after its 8-byte header
    gem = [
        (gem_body + int(GEM_DTYPE.fields[k][1]), GEM_DTYPE[k].itemsize)
        for k in ("live", "discarded", "delta_event")
    ]
    return np.asarray(head + gem, np.int64)


#: (offset in the record, width) of the counters :func:`fermi_latsim._kernels.patch_records` writes:
#: header gem_seq, livetime, discarded; GEM live, discarded, delta_event
PATCH_FIELDS = _patch_fields()


def event_records(
    resp: Response, h: np.ndarray, gem: np.ndarray, hw: np.ndarray, kernels: object = _kernels
) -> tuple[np.ndarray, np.ndarray]:
    """Event records back to back (header, GEM, TEM per tower, AEM; §4.3-4.4) and their lengths.

    ``kernels`` is :mod:`fermi_latsim._kernels` (or its twin :mod:`fermi_latsim._reference`).
    ``h["n_contributions"]``, ``identity`` and ``length`` are filled in.
    """
    n = len(resp)
    ev = np.arange(n)
    s_lo = np.searchsorted(resp.strips["event"], ev)
    s_hi = np.searchsorted(resp.strips["event"], ev, side="right")
    a_lo = np.searchsorted(resp.acd["event"], ev)
    a_hi = np.searchsorted(resp.acd["event"], ev, side="right")
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
    logs, log_tower = logs[log_order], resp.logs["tower"][log_order].astype(np.int64)
    log_event = resp.logs["event"][log_order]
    l_lo = np.searchsorted(log_event, ev)
    l_hi = np.searchsorted(log_event, ev, side="right")
    strip_tower = resp.strips["tower"].astype(np.int64)
    con_len, ncon = kernels.contribution_sizes(strip_tower, s_lo, s_hi, log_tower, l_lo, l_hi, a_lo, a_hi)
    h["n_contributions"] = ncon
    h["identity"] = EVENT_IDENTITY
    h["length"] = EVENT_HEADER + con_len
    lengths = (EVENT_HEADER + con_len).astype(np.int64)
    records = kernels.write_records(
        np.ascontiguousarray(h).view(np.uint8).reshape(n, EVENT_HEADER),
        np.ascontiguousarray(gem).view(np.uint8).reshape(n, GEM_DTYPE.itemsize),
        hw.astype(np.int64),
        strips.view(np.uint8).reshape(-1, _STRIP_OUT.itemsize),
        strip_tower,
        s_lo,
        s_hi,
        logs.view(np.uint8).reshape(-1, _LOG_OUT.itemsize),
        log_tower,
        l_lo,
        l_hi,
        acd.view(np.uint8).reshape(-1, _ACD_OUT.itemsize),
        a_lo,
        a_hi,
        lengths,
    )
    return records, lengths


def epu_datagrams(
    ctx: DatagramContext,
    records: np.ndarray,
    lengths: np.ndarray,
    met: np.ndarray,
    stop_met: float,
    policy: DatagramPolicy,
) -> tuple[list[bytes], np.ndarray, np.ndarray]:
    """Cut one EPU's event records (back to back, in time order) into the datagrams of its run.

    Returns the datagrams (the first opens the run, the last closes it at ``stop_met``), their
    times (closing time) and, per event, the index of its datagram.
    """
    first, stop, reason = _kernels.cut_datagrams(
        np.asarray(lengths, np.int64),
        np.asarray(met, np.float64),
        MAX_DATAGRAM,
        ctx.header_length,  # 32 bytes, 48 with the configuration keys (telemetry.md §4.2.1)
        policy.max_events,
        policy.max_open_s,
    )
    ends = np.concatenate([[0], np.cumsum(lengths)])
    out: list[bytes] = []
    tout = np.empty(first.size)
    dgm_of_event = np.repeat(np.arange(first.size, dtype=np.int64), stop - first)
    open_reason = REASON_OPERATOR
    for d in range(first.size):
        a, b = int(first[d]), int(stop[d])
        last = d == first.size - 1
        r = int(reason[d])
        out.append(
            encode_datagram(
                ctx,
                d,
                records[ends[a] : ends[b]].tobytes(),
                b - a,
                open_action=OPEN_START if d == 0 else OPEN_CONTINUE,
                close_action=CLOSE_STOP if last else CLOSE_CONTINUE,
                open_reason=open_reason,
                close_reason=REASON_OPERATOR if last else r,
            )
        )
        tout[d] = stop_met if last else (met[b - 1] if b > a else stop_met) + 1e-3
        open_reason = r if r != _kernels.NO_REASON else REASON_OPERATOR
    return out, tout, dgm_of_event


def gather_records(records: np.ndarray, lengths: np.ndarray, sel: np.ndarray) -> np.ndarray:
    """The records of events ``sel`` (indices, in order) back to back."""
    lengths = np.ascontiguousarray(lengths, np.int64)
    sel = np.ascontiguousarray(sel, np.int64)
    if sel.size and sel[-1] - sel[0] == sel.size - 1 and np.all(np.diff(sel) == 1):
        start = int(lengths[: sel[0]].sum())
        return records[start : start + int(lengths[sel].sum())]
    return _kernels.gather_records(np.ascontiguousarray(records, np.uint8), lengths, sel)


def encode_run(
    resp: Response,
    run: int,
    rng: np.random.Generator,
    stop_met: float,
    policy: DatagramPolicy | None = None,
    epus: tuple[int, ...] = (0, 1),
    ground_id: int = 0x0000BEEF,
    keys: ConfigKeys | None = None,
) -> EncodedRun:
    """Encode the events of ``resp`` (all inside one run started at MET ``run``) into datagrams.

    Events go to the EPUs of ``epus`` at random (one EPU only reproduces the "run with one EPU"
    fault); each EPU's stream is cut into datagrams by ``policy`` and the last one closes the run
    (action stop) at ``stop_met``. With ``keys`` every datagram carries the run's configuration
    keys (format version 2; :mod:`fermi_latsim.config_keys`).
    """
    policy = policy or DatagramPolicy()
    n = len(resp)
    h, gem, hw = event_headers(resp, run)
    records, lengths = event_records(resp, h, gem, hw)
    epu = np.asarray(epus, np.int64)[rng.integers(0, len(epus), n)] if n else np.zeros(0, np.int64)
    met_q = run + h["elapsed"].astype(np.int64) / NOMINAL_TICKS_PER_SECOND
    dgms: dict[int, list[bytes]] = {}
    times: dict[int, np.ndarray] = {}
    dgm_of_event = np.zeros(n, np.int64)
    for crate in epus:
        ctx = DatagramContext(run=run, crate=crate, ground_id=ground_id, keys=keys)
        sel = np.flatnonzero(epu == crate)
        dgms[crate], times[crate], dgm_of_event[sel] = epu_datagrams(
            ctx, gather_records(records, lengths, sel), lengths[sel], met_q[sel], stop_met, policy
        )
    return EncodedRun(
        run, dgms, times, h["gem_seq"].astype(np.int64), epu.astype(np.int8), met_q, dgm_of_event
    )
