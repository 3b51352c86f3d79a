"""Byte layout of an event record (docs/formats/telemetry.md sections 4.3-4.7) and error codes."""

from __future__ import annotations

import numpy as np

EVENT_IDENTITY = 0x104F0010
EVENT_HEADER_BYTES = 96
CONTRIB_HEADER_BYTES = 8
GEM_BYTES = 68
TEM_HEADER_BYTES = 12
AEM_HEADER_BYTES = 12
STRIP_BYTES = 4
LOG_BYTES = 8
ACD_HIT_BYTES = 8
TYPE_GEM, TYPE_TEM, TYPE_AEM = 1, 2, 3
SUMMARY_MASK = 0x1FFFF

#: (name, base, offset, width, dtype): base 0 = event header, 1 = GEM contribution
HEADER_FIELDS: tuple[tuple[str, int, int, int, str], ...] = (
    ("gem_sequence", 0, 8, 8, "u8"),
    ("elapsed", 0, 16, 8, "u8"),
    ("livetime", 0, 24, 8, "u8"),
    ("prescaled", 0, 32, 8, "u8"),
    ("discarded", 0, 40, 8, "u8"),
    ("deadzone", 0, 48, 8, "u8"),
    ("trigger_ticks", 0, 56, 4, "u4"),
    ("tone_seconds", 0, 60, 4, "u4"),
    ("tone_ticks", 0, 64, 4, "u4"),
    ("tone_hacks", 0, 68, 2, "u2"),
    ("tone_flags", 0, 70, 1, "u1"),
    ("tone_flywheel", 0, 71, 1, "u1"),
    ("prev_tone_seconds", 0, 72, 4, "u4"),
    ("prev_tone_ticks", 0, 76, 4, "u4"),
    ("prev_tone_hacks", 0, 80, 2, "u2"),
    ("prev_tone_flags", 0, 82, 1, "u1"),
    ("prev_tone_flywheel", 0, 83, 1, "u1"),
    ("filter_status", 0, 84, 4, "u4"),
    ("event_summary", 1, 4, 4, "u4"),
    ("gem_tkr_vector", 1, 8, 2, "u2"),
    ("gem_roi_vector", 1, 10, 2, "u2"),
    ("gem_cal_le_vector", 1, 12, 2, "u2"),
    ("gem_cal_he_vector", 1, 14, 2, "u2"),
    ("gem_cno_vector", 1, 16, 2, "u2"),
    ("gem_conditions", 1, 18, 1, "u1"),
    ("gem_missed", 1, 19, 1, "u1"),
    ("gem_acd_xzm", 1, 20, 2, "u2"),
    ("gem_acd_xzp", 1, 22, 2, "u2"),
    ("gem_acd_yzm", 1, 24, 2, "u2"),
    ("gem_acd_yzp", 1, 26, 2, "u2"),
    ("gem_acd_xy", 1, 28, 4, "u4"),
    ("gem_acd_rbn", 1, 32, 2, "u2"),
    ("gem_acd_na", 1, 34, 2, "u2"),
    ("gem_livetime", 1, 36, 4, "u4"),
    ("gem_prescaled", 1, 40, 4, "u4"),
    ("gem_discarded", 1, 44, 4, "u4"),
    ("gem_cond_arrival", 1, 48, 4, "u4"),
    ("gem_trigger_time", 1, 52, 4, "u4"),
    ("gem_pps_seconds", 1, 56, 4, "u4"),
    ("gem_pps_ticks", 1, 60, 4, "u4"),
    ("gem_delta_event", 1, 64, 2, "u2"),
    ("gem_delta_window", 1, 66, 2, "u2"),
)
FIELD_NAMES = tuple(f[0] for f in HEADER_FIELDS)
FIELD_BASE = np.array([f[1] for f in HEADER_FIELDS], dtype=np.int64)
FIELD_OFFSET = np.array([f[2] for f in HEADER_FIELDS], dtype=np.int64)
FIELD_WIDTH = np.array([f[3] for f in HEADER_FIELDS], dtype=np.int64)
FIELD_DTYPE = {f[0]: np.dtype(f[4]) for f in HEADER_FIELDS}

#: decoder status codes (0 = good) and their messages
STATUS_TEXT = {
    0: "ok",
    1: "record shorter than the 96-byte event header",
    2: "bad event identity word (expected 0x104F0010)",
    3: "event length field differs from the record length or is not a multiple of 4",
    4: "truncated contribution header",
    5: "bad contribution length (under 8, not a multiple of 4, past the event end, or wrong for GEM)",
    6: "first contribution is not a GEM, or a second GEM",
    7: "unknown contribution type",
    8: "TEM length differs from 12 + 4 n_strips + 8 n_logs",
    9: "AEM length differs from 12 + 8 n_hits",
    10: "TEM source (tower) above 15",
    11: "strip hit out of range (layer > 17, view > 1 or strip > 1535)",
    12: "calorimeter log out of range (layer > 7, column > 11 or range > 3)",
    13: "number of contributions differs from the event header",
    14: "event summary differs between contributions",
    15: "record offset/length outside the buffer",
    16: "contributions out of order (TEM towers not increasing, or TEM/AEM after the AEM)",
}
