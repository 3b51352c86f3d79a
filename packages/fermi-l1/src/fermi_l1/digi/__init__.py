"""LAT digi: decode the event records of the merged stream into hit arrays (and encode them)."""

from fermi_l1.digi._layout import FIELD_NAMES, STATUS_TEXT
from fermi_l1.digi.decode import DigiError, DigiEvents, decode_events, encode_events, event_time, make_events

__all__ = [
    "FIELD_NAMES",
    "STATUS_TEXT",
    "DigiError",
    "DigiEvents",
    "decode_events",
    "encode_events",
    "event_time",
    "make_events",
]
