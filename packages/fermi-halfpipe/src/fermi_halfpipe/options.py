"""Tunable parameters of the halfpipe (:class:`HalfpipeOptions`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fermi_halfpipe.format import DEFAULT_EPU_APIDS, SPACECRAFT_APID


@dataclass
class HalfpipeOptions:
    """Tunable parameters of the halfpipe.

    Attributes
    ----------
    epu_apids
        The expected EPU set: APID -> crate number (default 956 -> EPU0, 957 -> EPU1). A run
        must have its event datagrams from exactly these EPUs.
    spacecraft_apid
        APID of the attitude/orbit records.
    max_events
        Largest number of events in one merged file.
    fragment_max_seconds
        Largest packet-time distance between two pieces of one datagram.
    """

    epu_apids: dict[int, int] = field(default_factory=lambda: dict(DEFAULT_EPU_APIDS))
    spacecraft_apid: int = SPACECRAFT_APID
    max_events: int = 1_000_000
    fragment_max_seconds: float = 600.0

    def __post_init__(self) -> None:
        if len(self.epu_apids) != 2:
            raise ValueError(f"parameter 'epu_apids': exactly two EPUs required, got {self.epu_apids}")
        if self.max_events < 1:
            raise ValueError(f"parameter 'max_events': must be positive, got {self.max_events}")
