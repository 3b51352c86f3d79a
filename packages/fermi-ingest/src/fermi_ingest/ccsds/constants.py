"""Constants of the raw telemetry format, version 1 (``docs/formats/telemetry.md``).

The APID table and the packet constants are mission facts defined once in
:mod:`fermi_core.mission.packets` and read here; this module adds the decoder's reason texts.
"""

from __future__ import annotations

from fermi_core.mission.packets import (
    APID_EPU0,
    APID_EPU1,
    APID_EPU2,
    APID_SIU,
    APID_SPACECRAFT,
    CCSDS_MAX_PACKET_LENGTH,
    DEFAULT_APIDS,
    DEFAULT_EVENT_APIDS,
    FORMAT_VERSION,
    HEADER_LENGTH,
    MAX_PACKET_LENGTH,
    MAX_PAYLOAD,
    SCID_FERMI,
    SEQ_CONTINUATION,
    SEQ_FIRST,
    SEQ_LAST,
    SEQ_MODULUS,
    SEQ_UNSEGMENTED,
)

__all__ = [
    "APID_EPU0",
    "APID_EPU1",
    "APID_EPU2",
    "APID_SIU",
    "APID_SPACECRAFT",
    "CCSDS_MAX_PACKET_LENGTH",
    "DEFAULT_APIDS",
    "DEFAULT_EVENT_APIDS",
    "FORMAT_VERSION",
    "HEADER_LENGTH",
    "MAX_PACKET_LENGTH",
    "MAX_PAYLOAD",
    "REASONS",
    "SCID_FERMI",
    "SEQ_CONTINUATION",
    "SEQ_FIRST",
    "SEQ_LAST",
    "SEQ_MODULUS",
    "SEQ_UNSEGMENTED",
]

#: Reason texts of the decoder's codes (section 6 of the format document).
REASONS = {
    1: "bad version",
    2: "telecommand packet",
    3: "no secondary header",
    4: "unknown APID",
    5: "impossible length",
    6: "bad secondary header",
    7: "truncated",
}
