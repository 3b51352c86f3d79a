"""The datagram header layout (docs/formats/telemetry.md §4.2) as far as Level 0 needs it.

fermi-ingest cuts deliveries into chunks on datagram boundaries, one run per chunk, so it
reads the run and the datagram sequence (``mcd``) from each datagram's first packet. The
rest of the datagram layer (events, contributions) belongs to fermi-halfpipe, which
imports this layout from here so that it is written down once.
"""

from __future__ import annotations

import numpy as np

#: First word of every event datagram.
DATAGRAM_IDENTITY = 0x201F1010

#: The 32-byte datagram header, big-endian.
DATAGRAM_HEADER_DTYPE = np.dtype(
    [
        ("identity", ">u4"),
        ("length", ">u4"),
        ("run", ">u4"),
        ("ground_id", ">u4"),
        ("mcd", ">u4"),
        ("open_action", "u1"),
        ("open_reason", "u1"),
        ("close_action", "u1"),
        ("close_reason", "u1"),
        ("crate", "i1"),
        ("platform", "u1"),
        ("origin", "u1"),
        ("version", "u1"),
        ("n_events", ">u4"),
    ]
)

#: Byte offsets of the fields Level 0 reads.
RUN_OFFSET = DATAGRAM_HEADER_DTYPE.fields["run"][1]
MCD_OFFSET = DATAGRAM_HEADER_DTYPE.fields["mcd"][1]
