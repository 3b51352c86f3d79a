"""The APID table and the CCSDS packet constants of raw LAT telemetry, format version 1.

Everything here transcribes ``docs/formats/telemetry.md`` (sections 2 and 3). fermi-ingest's
packet layer, fermi-halfpipe's datagram layer and the simulator (fermi-latsim) read these names;
the APIDs are defaults, configurable everywhere they are used.
"""

from __future__ import annotations

__all__ = [
    "APID_EPU0",
    "APID_EPU1",
    "APID_EPU2",
    "APID_SIU",
    "APID_SPACECRAFT",
    "CCSDS_MAX_PACKET_LENGTH",
    "DEFAULT_APIDS",
    "DEFAULT_EPU_APIDS",
    "DEFAULT_EVENT_APIDS",
    "FORMAT_VERSION",
    "HEADER_LENGTH",
    "MAX_PACKET_LENGTH",
    "MAX_PAYLOAD",
    "SCID_FERMI",
    "SEQ_CONTINUATION",
    "SEQ_FIRST",
    "SEQ_LAST",
    "SEQ_MODULUS",
    "SEQ_UNSEGMENTED",
]

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
#: APIDs of the event datagrams the halfpipe merges (the two EPUs in use).
DEFAULT_EVENT_APIDS = (APID_EPU0, APID_EPU1)
#: APIDs ingest accepts by default.
DEFAULT_APIDS = (APID_SIU, APID_EPU0, APID_EPU1, APID_EPU2, APID_SPACECRAFT)
#: Default APID -> EPU (crate) mapping of the event datagrams (configuration, not code: section 3).
DEFAULT_EPU_APIDS: dict[int, int] = {APID_EPU0: 0, APID_EPU1: 1}
