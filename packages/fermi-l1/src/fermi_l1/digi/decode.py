"""Decode event records into hit arrays (the LAT "digi"), and encode them back.

Array layout of :class:`DigiEvents` (``n`` events):

* ``header[name]``: one array of length ``n`` per field of the event header and GEM contribution
  (names in :data:`fermi_l1.digi._layout.FIELD_NAMES`, unsigned dtypes of the field width):
  ``gem_sequence`` (merge key), ``elapsed``/``livetime``/``prescaled``/``discarded``/``deadzone``
  (run counters, 50 ns ticks or counts), ``trigger_ticks``, ``tone_*``/``prev_tone_*`` (time
  tones), ``filter_status``, ``event_summary`` and the GEM fields ``gem_*``.
* ``status`` int32 (n): 0 good, else a code of ``_layout.STATUS_TEXT`` (only with
  ``errors="flag"``; bad events have no hits).
* tracker strips, sorted by (event, tower, plane, view, strip): ``tkr_ptr`` int64 (n+1) so event
  ``i`` owns ``tkr_ptr[i]:tkr_ptr[i+1]``; ``tkr_event`` int64, ``tkr_tower``, ``tkr_plane``
  (0 = top), ``tkr_view`` (0 X, 1 Y), ``tkr_strip`` int16.
* calorimeter logs, sorted by (event, tower, layer, column): ``cal_ptr``, ``cal_event``,
  ``cal_tower``, ``cal_layer``, ``cal_column`` int16, ``cal_range_pos``/``cal_range_neg`` uint8,
  ``cal_adc_pos``/``cal_adc_neg`` uint16, and derived float64 ``cal_energy_pos``/
  ``cal_energy_neg`` (face signals, MeV), ``cal_energy`` (MeV), ``cal_offset`` (mm along the log).
* ACD hits, sorted by (event, id): ``acd_ptr``, ``acd_event``, ``acd_id`` int16, ``acd_flags``,
  ``acd_ranges`` uint8, ``acd_pha_a``/``acd_pha_b`` uint16, ``acd_energy`` float64 (MeV, mean of
  the PMTs that fired).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fermi_core.errors import BadInput
from fermi_l1 import instrument as inst

from . import _kernels
from ._layout import (
    ACD_HIT_BYTES,
    AEM_HEADER_BYTES,
    EVENT_HEADER_BYTES,
    FIELD_BASE,
    FIELD_DTYPE,
    FIELD_NAMES,
    FIELD_OFFSET,
    FIELD_WIDTH,
    GEM_BYTES,
    LOG_BYTES,
    STATUS_TEXT,
    STRIP_BYTES,
    TEM_HEADER_BYTES,
)

TICKS_PER_SECOND = 20_000_000
_TICK_MASK = (1 << 25) - 1
_MISSING_PPS = 2 | 4


class DigiError(BadInput, ValueError):
    """A malformed event record: names the record, its byte offset in the buffer and the reason."""

    def __init__(self, record: int, offset: int, code: int, source: str = "records buffer") -> None:
        super().__init__(f"{source}: event record {record} at byte offset {offset}: {STATUS_TEXT[code]}")
        self.record = record
        self.offset = offset
        self.code = code


@dataclass
class DigiEvents:
    """Decoded events (see the module docstring for the array layout)."""

    header: dict[str, np.ndarray]
    status: np.ndarray
    tkr_ptr: np.ndarray
    tkr_tower: np.ndarray
    tkr_plane: np.ndarray
    tkr_view: np.ndarray
    tkr_strip: np.ndarray
    cal_ptr: np.ndarray
    cal_tower: np.ndarray
    cal_layer: np.ndarray
    cal_column: np.ndarray
    cal_range_pos: np.ndarray
    cal_range_neg: np.ndarray
    cal_adc_pos: np.ndarray
    cal_adc_neg: np.ndarray
    acd_ptr: np.ndarray
    acd_id: np.ndarray
    acd_flags: np.ndarray
    acd_ranges: np.ndarray
    acd_pha_a: np.ndarray
    acd_pha_b: np.ndarray
    derived: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def n_events(self) -> int:
        return int(self.status.shape[0])

    def _cached(self, name: str, make) -> np.ndarray:  # type: ignore[no-untyped-def]
        if name not in self.derived:
            self.derived[name] = make()
        return self.derived[name]

    @property
    def tkr_event(self) -> np.ndarray:
        """Event index (int64) of each strip hit."""
        return self._cached("tkr_event", lambda: _event_index(self.tkr_ptr))

    @property
    def cal_event(self) -> np.ndarray:
        """Event index (int64) of each log."""
        return self._cached("cal_event", lambda: _event_index(self.cal_ptr))

    @property
    def acd_event(self) -> np.ndarray:
        """Event index (int64) of each ACD hit."""
        return self._cached("acd_event", lambda: _event_index(self.acd_ptr))

    @property
    def cal_energy_pos(self) -> np.ndarray:
        """Positive-face signal of each log (MeV)."""
        return self._cached(
            "cal_energy_pos", lambda: inst.cal_adc_to_energy(self.cal_range_pos, self.cal_adc_pos)
        )

    @property
    def cal_energy_neg(self) -> np.ndarray:
        """Negative-face signal of each log (MeV)."""
        return self._cached(
            "cal_energy_neg", lambda: inst.cal_adc_to_energy(self.cal_range_neg, self.cal_adc_neg)
        )

    def _log(self) -> None:
        e, off = inst.cal_log_energy(self.cal_energy_pos, self.cal_energy_neg)
        self.derived["cal_energy"] = e
        self.derived["cal_offset"] = off

    @property
    def cal_energy(self) -> np.ndarray:
        """Energy of each log (MeV, geometric mean of the faces)."""
        if "cal_energy" not in self.derived:
            self._log()
        return self.derived["cal_energy"]

    @property
    def cal_offset(self) -> np.ndarray:
        """Longitudinal position of each log's deposit (mm from the log centre; NaN if one face)."""
        if "cal_offset" not in self.derived:
            self._log()
        return self.derived["cal_offset"]

    @property
    def acd_energy(self) -> np.ndarray:
        """Energy of each ACD hit (MeV): mean of the PMTs with their hit flag set."""

        def make() -> np.ndarray:
            ea = inst.acd_pha_to_mev(self.acd_pha_a, self.acd_ranges & 1)
            eb = inst.acd_pha_to_mev(self.acd_pha_b, self.acd_ranges & 2)
            ha = (self.acd_flags & 1) != 0
            hb = (self.acd_flags & 2) != 0
            n = ha.astype(np.float64) + hb
            return np.where(n > 0, (ea * ha + eb * hb) / np.maximum(n, 1), 0.0)

        return self._cached("acd_energy", make)


def _event_index(ptr: np.ndarray) -> np.ndarray:
    return np.repeat(np.arange(ptr.shape[0] - 1, dtype=np.int64), np.diff(ptr))


def _as_inputs(buffer: np.ndarray, offsets: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, ...]:
    buf = np.frombuffer(buffer, dtype=np.uint8) if isinstance(buffer, bytes | bytearray) else buffer
    buf = np.ascontiguousarray(buf, dtype=np.uint8).reshape(-1)
    off = np.ascontiguousarray(offsets, dtype=np.int64).reshape(-1)
    ln = np.ascontiguousarray(lengths, dtype=np.int64).reshape(-1)
    if off.shape != ln.shape:
        raise ValueError(f"offsets ({off.shape[0]}) and lengths ({ln.shape[0]}) differ in size")
    return buf, off, ln


def decode_events(
    buffer: np.ndarray | bytes,
    offsets: np.ndarray,
    lengths: np.ndarray,
    *,
    errors: str = "raise",
    source: str = "records buffer",
) -> DigiEvents:
    """Decode event records (telemetry format sections 4.3-4.7) into :class:`DigiEvents`.

    Parameters
    ----------
    buffer
        Flat uint8 array (or bytes) holding the records, e.g. ``read_merged(...).records_buffer``.
    offsets, lengths
        Start and length in bytes of each record (one event each) in ``buffer``.
    errors
        ``"raise"``: the first malformed record raises :class:`DigiError`; ``"flag"``: malformed
        records get a nonzero ``status`` and no hits.
    source
        Name of the input (file or run) used in error messages.
    """
    if errors not in ("raise", "flag"):
        raise ValueError(f"errors={errors!r}: use 'raise' or 'flag'")
    buf, off, ln = _as_inputs(buffer, offsets, lengths)
    status, fault, counts = _kernels.scan_records(buf, off, ln)
    bad = np.flatnonzero(status)
    if errors == "raise" and bad.size:
        i = int(bad[0])
        raise DigiError(i, int(off[i] + fault[i]), int(status[i]), source)
    ptrs = np.zeros((3, off.shape[0] + 1), dtype=np.int64)
    ptrs[:, 1:] = np.cumsum(counts, axis=0).T
    fields, tkr, cal, acd = _kernels.fill_records(
        buf, off, status, ptrs[0], ptrs[1], ptrs[2], FIELD_BASE, FIELD_OFFSET, FIELD_WIDTH
    )
    return _assemble(status, fields, tkr, cal, acd, ptrs)


def _assemble(
    status: np.ndarray,
    fields: np.ndarray,
    tkr: np.ndarray,
    cal: np.ndarray,
    acd: np.ndarray,
    ptrs: np.ndarray,
) -> DigiEvents:
    header = {name: fields[:, k].astype(FIELD_DTYPE[name]) for k, name in enumerate(FIELD_NAMES)}
    return DigiEvents(
        header=header,
        status=status,
        tkr_ptr=ptrs[0].copy(),
        tkr_tower=tkr[:, 0].copy(),
        tkr_plane=tkr[:, 1].copy(),
        tkr_view=tkr[:, 2].copy(),
        tkr_strip=tkr[:, 3].copy(),
        cal_ptr=ptrs[1].copy(),
        cal_tower=cal[:, 0].astype(np.int16),
        cal_layer=cal[:, 1].astype(np.int16),
        cal_column=cal[:, 2].astype(np.int16),
        cal_range_pos=cal[:, 3].astype(np.uint8),
        cal_range_neg=cal[:, 4].astype(np.uint8),
        cal_adc_pos=cal[:, 5].astype(np.uint16),
        cal_adc_neg=cal[:, 6].astype(np.uint16),
        acd_ptr=ptrs[2].copy(),
        acd_id=acd[:, 0].astype(np.int16),
        acd_flags=acd[:, 1].astype(np.uint8),
        acd_ranges=acd[:, 2].astype(np.uint8),
        acd_pha_a=acd[:, 3].astype(np.uint16),
        acd_pha_b=acd[:, 4].astype(np.uint16),
    )


def make_events(
    header: dict[str, np.ndarray],
    tkr: dict[str, np.ndarray] | None = None,
    cal: dict[str, np.ndarray] | None = None,
    acd: dict[str, np.ndarray] | None = None,
) -> DigiEvents:
    """Build :class:`DigiEvents` from unsorted hit lists (what a simulator produces).

    Parameters
    ----------
    header
        Arrays of length n keyed by field names (missing fields are 0); ``gem_sequence`` sets n.
    tkr
        ``event``, ``tower``, ``plane``, ``view``, ``strip``; duplicates (same strip twice) are
        merged.
    cal
        ``event``, ``tower``, ``layer``, ``column``, ``range_pos``, ``range_neg``, ``adc_pos``,
        ``adc_neg``; one entry per log.
    acd
        ``event``, ``id``, ``flags``, ``ranges``, ``pha_a``, ``pha_b``; one entry per element.
    """
    n = len(header["gem_sequence"])
    fields = np.zeros((n, len(FIELD_NAMES)), dtype=np.uint64)
    for k, name in enumerate(FIELD_NAMES):
        if name in header:
            fields[:, k] = np.asarray(header[name]).astype(np.uint64)

    def table(d: dict[str, np.ndarray] | None, keys: tuple[str, ...], sort: tuple[str, ...], dtype) -> tuple:  # type: ignore[no-untyped-def]
        if d is None or len(d[keys[0]]) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros((0, len(keys) - 1), dtype=dtype)
        cols = {k: np.asarray(d[k]).astype(np.int64) for k in keys}
        order = np.lexsort([cols[k] for k in reversed(sort)])
        ev = cols["event"][order]
        if ev.size and (ev[0] < 0 or ev[-1] >= n):
            raise ValueError(f"hit event index outside 0..{n - 1}")
        return ev, np.stack([cols[k][order] for k in keys[1:]], axis=1).astype(dtype)

    ev_t, t = table(
        tkr,
        ("event", "tower", "plane", "view", "strip"),
        ("event", "tower", "plane", "view", "strip"),
        np.int16,
    )
    if len(ev_t):
        keep = np.ones(len(ev_t), dtype=bool)
        keep[1:] = (np.diff(ev_t) != 0) | np.any(np.diff(t, axis=0) != 0, axis=1)
        ev_t, t = ev_t[keep], t[keep]
    keys_c = ("event", "tower", "layer", "column", "range_pos", "range_neg", "adc_pos", "adc_neg")
    ev_c, c = table(cal, keys_c, ("event", "tower", "layer", "column"), np.int32)
    ev_a, a = table(acd, ("event", "id", "flags", "ranges", "pha_a", "pha_b"), ("event", "id"), np.int32)
    ptrs = np.zeros((3, n + 1), dtype=np.int64)
    for row, ev in enumerate((ev_t, ev_c, ev_a)):
        ptrs[row, 1:] = np.cumsum(np.bincount(ev, minlength=n))
    return _assemble(np.zeros(n, dtype=np.int32), fields, t, c, a, ptrs)


def encode_events(events: DigiEvents) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(buffer uint8, offsets int64, lengths int64)`` of the events' records.

    The inverse of :func:`decode_events`: GEM first, one TEM per tower with strips or logs
    (increasing tower), an AEM when the event has ACD hits. Hits must be sorted as in
    :class:`DigiEvents` (:func:`make_events` does it).
    """
    n = events.n_events
    fields = np.stack([events.header[name].astype(np.uint64) for name in FIELD_NAMES], axis=1).reshape(n, -1)
    tkr = np.stack([events.tkr_tower, events.tkr_plane, events.tkr_view, events.tkr_strip], axis=1).astype(
        np.int16
    )
    cal = np.stack(
        [
            events.cal_tower,
            events.cal_layer,
            events.cal_column,
            events.cal_range_pos,
            events.cal_range_neg,
            events.cal_adc_pos,
            events.cal_adc_neg,
        ],
        axis=1,
    ).astype(np.int32)
    acd = np.stack(
        [events.acd_id, events.acd_flags, events.acd_ranges, events.acd_pha_a, events.acd_pha_b], axis=1
    ).astype(np.int32)
    # one TEM per (event, tower) present in tracker or calorimeter hits
    key_t = events.tkr_event * 16 + events.tkr_tower
    key_c = events.cal_event * 16 + events.cal_tower
    tem_key = np.union1d(key_t, key_c)
    tem_event = tem_key // 16
    tem_tower = (tem_key % 16).astype(np.uint8)
    tem_ptr = np.searchsorted(tem_event, np.arange(n + 1), side="left").astype(np.int64)
    tem_tkr_ptr = np.searchsorted(key_t, np.append(tem_key, np.iinfo(np.int64).max), side="left").astype(
        np.int64
    )
    tem_cal_ptr = np.searchsorted(key_c, np.append(tem_key, np.iinfo(np.int64).max), side="left").astype(
        np.int64
    )
    n_tem = np.diff(tem_ptr)
    n_acd = np.diff(events.acd_ptr)
    lengths = (
        EVENT_HEADER_BYTES
        + GEM_BYTES
        + TEM_HEADER_BYTES * n_tem
        + STRIP_BYTES * np.diff(events.tkr_ptr)
        + LOG_BYTES * np.diff(events.cal_ptr)
        + np.where(n_acd > 0, AEM_HEADER_BYTES + ACD_HIT_BYTES * n_acd, 0)
    ).astype(np.int64)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    buf = _kernels.encode_records(
        fields,
        FIELD_BASE,
        FIELD_OFFSET,
        FIELD_WIDTH,
        tem_ptr,
        tem_tower,
        tem_tkr_ptr,
        tem_cal_ptr,
        tkr,
        cal,
        events.acd_ptr,
        acd,
        offsets,
        int(offsets[-1]),
    )
    return buf, offsets[:-1].copy(), lengths


def event_time(header: dict[str, np.ndarray]) -> np.ndarray:
    """Return the event times (MET seconds, float64) from the trigger ticks and time tones.

    ``t = tone_seconds + dt_evt / dt_pps`` (ldfReader ``timeForTds``; telemetry format 4.3):
    ``dt_evt`` the 25-bit tick difference between the trigger and the current tone, ``dt_pps`` that
    between the two tones when both are good, one second apart and distinct, else 20,000,000.
    """
    cur_s = header["tone_seconds"].astype(np.int64)
    cur_t = header["tone_ticks"].astype(np.int64)
    prev_s = header["prev_tone_seconds"].astype(np.int64)
    prev_t = header["prev_tone_ticks"].astype(np.int64)
    d_evt = (header["trigger_ticks"].astype(np.int64) - cur_t) & _TICK_MASK
    d_pps = (cur_t - prev_t) & _TICK_MASK
    good = (
        ((header["tone_flags"] & _MISSING_PPS) == 0)
        & ((header["prev_tone_flags"] & _MISSING_PPS) == 0)
        & (cur_t != prev_t)
        & (cur_s - prev_s == 1)
    )
    d_pps = np.where(good, d_pps, TICKS_PER_SECOND)
    return cur_s + d_evt / d_pps.astype(np.float64)
