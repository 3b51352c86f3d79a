"""The CCSDS packet layer of raw LAT telemetry (format version 1): encoder and decoder.

See ``docs/formats/telemetry.md`` for the byte layout.
"""

from fermi_ingest.ccsds.constants import (
    DEFAULT_APIDS,
    DEFAULT_EVENT_APIDS,
    FORMAT_VERSION,
    MAX_PACKET_LENGTH,
    MAX_PAYLOAD,
    REASONS,
    SCID_FERMI,
    SEQ_MODULUS,
)
from fermi_ingest.ccsds.decode import MalformedSpan, PacketTable, apid_mask, decode_buffer, decode_file
from fermi_ingest.ccsds.encode import PacketColumns, concatenate, encode_packets, segment_datagrams

__all__ = [
    "DEFAULT_APIDS",
    "DEFAULT_EVENT_APIDS",
    "FORMAT_VERSION",
    "MAX_PACKET_LENGTH",
    "MAX_PAYLOAD",
    "REASONS",
    "SCID_FERMI",
    "SEQ_MODULUS",
    "MalformedSpan",
    "PacketColumns",
    "PacketTable",
    "apid_mask",
    "concatenate",
    "decode_buffer",
    "decode_file",
    "encode_packets",
    "segment_datagrams",
]
