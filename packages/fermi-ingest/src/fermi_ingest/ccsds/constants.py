"""Constants of the raw telemetry format, version 1 (``docs/formats/telemetry.md``)."""

from __future__ import annotations

#: Format version described by ``docs/formats/telemetry.md``.
FORMAT_VERSION = 1
#: Fermi spacecraft id (flight); the LAT testbed used 99.
SCID_FERMI = 77
#: Primary + secondary header length, bytes.
HEADER_LENGTH = 14
#: Largest packet this project writes and, by default, accepts (headers included).
MAX_PACKET_LENGTH = 4096
#: Largest payload of one packet.
MAX_PAYLOAD = MAX_PACKET_LENGTH - HEADER_LENGTH
#: CCSDS limit on a packet (data length field 65535).
CCSDS_MAX_PACKET_LENGTH = 65542
#: Sequence count modulus (14 bits).
SEQ_MODULUS = 1 << 14

#: Sequence flags.
SEQ_CONTINUATION = 0
SEQ_FIRST = 1
SEQ_LAST = 2
SEQ_UNSEGMENTED = 3

#: Default APIDs (configurable everywhere they are used).
APID_EPU0 = 956
APID_EPU1 = 957
APID_EPU2 = 958
APID_SIU = 955
APID_SPACECRAFT = 1020
DEFAULT_EVENT_APIDS = (APID_EPU0, APID_EPU1)
DEFAULT_APIDS = (APID_SIU, APID_EPU0, APID_EPU1, APID_EPU2, APID_SPACECRAFT)

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
