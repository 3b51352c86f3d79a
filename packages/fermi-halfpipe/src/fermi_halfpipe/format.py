"""Constants and byte layouts of event datagrams, events and contributions (format versions 1 and 2).

Everything here transcribes ``docs/formats/telemetry.md`` §4 (datagrams, events, contributions;
§4.2.1 the configuration keys of a version-2 datagram) and §5 (spacecraft attitude/orbit
record); all multi-byte fields are big-endian.
"""

from __future__ import annotations

import numpy as np

from fermi_core.mission.packets import APID_SPACECRAFT as _APID_SPACECRAFT
from fermi_core.mission.packets import DEFAULT_EPU_APIDS as _DEFAULT_EPU_APIDS
from fermi_ingest.datagram_header import DATAGRAM_HEADER_DTYPE as _L0_DATAGRAM_HEADER_DTYPE
from fermi_ingest.datagram_header import DATAGRAM_IDENTITY as _L0_DATAGRAM_IDENTITY

#: The datagram format version written without configuration keys (32-byte header) ...
FORMAT_VERSION = 1
#: ... and with them (the 32-byte header, then the 16-byte key block of §4.2.1).
KEYS_FORMAT_VERSION = 2
#: Datagram format versions readers accept.
FORMAT_VERSIONS = (FORMAT_VERSION, KEYS_FORMAT_VERSION)

DATAGRAM_IDENTITY = _L0_DATAGRAM_IDENTITY
EVENT_IDENTITY = 0x104F0010
DATAGRAM_HEADER = 32
#: The configuration-key block after the header of a version-2 datagram (§4.2.1).
DATAGRAM_KEYS = 16
EVENT_HEADER = 96
CONTRIBUTION_HEADER = 8
GEM_LENGTH = 68
MAX_DATAGRAM = 65536

#: Datagram sequence counter width (bits) and the hardware event sequence width.
DATAGRAM_SEQ_BITS = 20
HW_SEQ_BITS = 17
TICK_BITS = 25
NOMINAL_TICKS_PER_SECOND = 20_000_000

# contribution types (§4.4)
CONTRIB_GEM = 1
CONTRIB_TEM = 2
CONTRIB_AEM = 3

# open and close actions (§4.2, enums/Lsf.h)
OPEN_START, OPEN_RESUME, OPEN_CONTINUE, OPEN_UNSPECIFIED = 0, 1, 2, 3
CLOSE_STOP, CLOSE_ABORT, CLOSE_PAUSE, CLOSE_CONTINUE, CLOSE_UNSPECIFIED = 0, 1, 2, 3, 4
OPEN_ACTIONS = {0: "start", 1: "resume", 2: "continue", 3: "unspecified"}
CLOSE_ACTIONS = {0: "stop", 1: "abort", 2: "pause", 3: "continue", 4: "unspecified"}
#: Close actions that end a run (the old halfPipe's span loop only honoured "stop": §1.10 item 3).
RUN_END_ACTIONS = (CLOSE_STOP, CLOSE_ABORT, CLOSE_PAUSE)

# time tone flags (§4.3)
TONE_MISSING_CPU_PPS = 2
TONE_MISSING_LAT_PPS = 4

#: Default APID -> EPU (crate) mapping and the spacecraft APID (configuration, not code: §3);
#: the APID table is :mod:`fermi_core.mission.packets`.
DEFAULT_EPU_APIDS = _DEFAULT_EPU_APIDS
SPACECRAFT_APID = _APID_SPACECRAFT

DATAGRAM_HEADER_DTYPE = _L0_DATAGRAM_HEADER_DTYPE
assert DATAGRAM_HEADER_DTYPE.itemsize == DATAGRAM_HEADER

#: The key block of a version-2 datagram (offset 32): LATC master (hardware) key, flight-software
#: (LPA/CDM) key, MOOT key, a reserved word (0).
DATAGRAM_KEYS_DTYPE = np.dtype(
    [("hw_key", ">u4"), ("sw_key", ">u4"), ("moot_key", ">u4"), ("reserved", ">u4")]
)
assert DATAGRAM_KEYS_DTYPE.itemsize == DATAGRAM_KEYS
#: The configuration keys, by name (``RetiredRun.config_keys`` / ``RunState.config_keys``).
KEY_NAMES = ("hw_key", "sw_key", "moot_key")
#: A key the data do not carry (a version-1 datagram), as in the real ISOC tables.
UNKNOWN_KEY = 0xFFFFFFFF


def header_length(version: int) -> int:
    """Bytes before the first event of a datagram of format ``version`` (32, or 48 with keys)."""
    return DATAGRAM_HEADER + (DATAGRAM_KEYS if version == KEYS_FORMAT_VERSION else 0)


EVENT_HEADER_DTYPE = np.dtype(
    [
        ("identity", ">u4"),
        ("length", ">u4"),
        ("gem_seq", ">u8"),
        ("elapsed", ">u8"),
        ("livetime", ">u8"),
        ("prescaled", ">u8"),
        ("discarded", ">u8"),
        ("deadzone", ">u8"),
        ("trigger_ticks", ">u4"),
        ("cur_tone_sec", ">u4"),
        ("cur_tone_ticks", ">u4"),
        ("cur_tone_hacks", ">u2"),
        ("cur_tone_flags", "u1"),
        ("cur_tone_flywheel", "u1"),
        ("prev_tone_sec", ">u4"),
        ("prev_tone_ticks", ">u4"),
        ("prev_tone_hacks", ">u2"),
        ("prev_tone_flags", "u1"),
        ("prev_tone_flywheel", "u1"),
        ("filter_status", ">u4"),
        ("n_contributions", ">u2"),
        ("reserved0", ">u2"),
        ("reserved1", ">u4"),
    ]
)
assert EVENT_HEADER_DTYPE.itemsize == EVENT_HEADER

#: Event header fields decoded into columns (name -> byte offset, width, native dtype).
EVENT_FIELDS: dict[str, tuple[int, int, str]] = {
    name: (
        int(EVENT_HEADER_DTYPE.fields[name][1]),
        EVENT_HEADER_DTYPE[name].itemsize,
        EVENT_HEADER_DTYPE[name].newbyteorder("=").str,
    )
    for name in EVENT_HEADER_DTYPE.names
    if name not in ("identity", "length", "reserved0", "reserved1")
}

#: bits of the spacecraft record ``flags`` (§5)
FLAG_IN_SAA = 1
FLAG_ATTITUDE_INVALID = 2
FLAG_ORBIT_INVALID = 4

SPACECRAFT_RECORD_DTYPE = np.dtype(
    [
        ("record_type", "u1"),
        ("version", "u1"),
        ("reserved0", ">u2"),
        ("sec", ">u4"),
        ("usec", ">u4"),
        ("flags", ">u4"),
        ("quaternion", ">f8", (4,)),
        ("position", ">f8", (3,)),
        ("velocity", ">f8", (3,)),
        ("sc_mode", "u1"),
        ("lat_mode", "u1"),
        ("lat_config", "u1"),
        ("data_qual", "u1"),
        ("reserved1", ">u4"),
    ]
)
assert SPACECRAFT_RECORD_DTYPE.itemsize == 104
