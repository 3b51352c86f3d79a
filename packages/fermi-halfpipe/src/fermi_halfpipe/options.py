"""Tunable parameters of the halfpipe (:class:`HalfpipeOptions`), and their environment settings."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from fermi_halfpipe.format import DEFAULT_EPU_APIDS, SPACECRAFT_APID

#: Environment settings of the completion policy (``docs/lifecycle/completion-policy.md``).
ENV_DEADLINE_DELIVERIES = "FERMI_HALFPIPE_DEADLINE_DELIVERIES"
ENV_DEADLINE_HOURS = "FERMI_HALFPIPE_DEADLINE_HOURS"
#: Environment setting of the mission-planning table (:mod:`fermi_halfpipe.planning`).
ENV_PLANNING_TABLE = "FERMI_HALFPIPE_PLANNING_TABLE"
#: Environment setting of :attr:`HalfpipeOptions.piece_bytes`.
ENV_PIECE_BYTES = "FERMI_HALFPIPE_PIECE_BYTES"
#: Default of :attr:`HalfpipeOptions.piece_bytes` (64 MiB).
DEFAULT_PIECE_BYTES = 64 * 2**20
#: Default of :attr:`HalfpipeOptions.deadline_deliveries`.
DEFAULT_DEADLINE_DELIVERIES = 3
#: Default of :attr:`HalfpipeOptions.deadline_hours`.
DEFAULT_DEADLINE_HOURS = 12.0


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
    deadline_deliveries
        Completion policy: an open run is due once this many later deliveries were merged
        without bringing it data (default 3; 0: due at once).
    deadline_hours
        Completion policy: an open run is due this many hours (wall time) after its last data
        arrived (default 12; 0: due at once). Whichever of the two comes first.
    planning_table
        The mission-planning table the runs' configuration keys are checked against
        (:mod:`fermi_halfpipe.planning`); None: the shipped default table.
    piece_bytes
        Byte budget of the merge's working pieces: a delivery is read this many bytes at a
        time, datagrams are stored and merged in batches of this size, so the merge's memory
        does not grow with the delivery or the run (besides one merged file of ``max_events``).
    """

    epu_apids: dict[int, int] = field(default_factory=lambda: dict(DEFAULT_EPU_APIDS))
    spacecraft_apid: int = SPACECRAFT_APID
    max_events: int = 1_000_000
    fragment_max_seconds: float = 600.0
    deadline_deliveries: int = DEFAULT_DEADLINE_DELIVERIES
    deadline_hours: float = DEFAULT_DEADLINE_HOURS
    planning_table: str | None = None
    piece_bytes: int = DEFAULT_PIECE_BYTES

    def __post_init__(self) -> None:
        if len(self.epu_apids) != 2:
            raise ValueError(f"parameter 'epu_apids': exactly two EPUs required, got {self.epu_apids}")
        if self.max_events < 1:
            raise ValueError(f"parameter 'max_events': must be positive, got {self.max_events}")
        if self.piece_bytes < 1:
            raise ValueError(f"parameter 'piece_bytes': must be positive, got {self.piece_bytes}")
        if self.deadline_deliveries < 0:
            raise ValueError(
                f"parameter 'deadline_deliveries': must be 0 or more, got {self.deadline_deliveries}"
            )
        if not self.deadline_hours >= 0:  # also refuses NaN
            raise ValueError(f"parameter 'deadline_hours': must be 0 or more, got {self.deadline_hours}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> HalfpipeOptions:
        """Options with the completion-policy settings of the environment; ``overrides`` win.

        Reads :data:`ENV_DEADLINE_DELIVERIES` (integer), :data:`ENV_DEADLINE_HOURS` (hours,
        decimal), :data:`ENV_PLANNING_TABLE` (a path) and :data:`ENV_PIECE_BYTES` (integer);
        an unset or empty variable keeps the default.

        Raises
        ------
        ValueError
            A variable that is not a number, or out of range (names the variable and value).
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, key, kind in (
            (ENV_DEADLINE_DELIVERIES, "deadline_deliveries", int),
            (ENV_DEADLINE_HOURS, "deadline_hours", float),
            (ENV_PLANNING_TABLE, "planning_table", str),
            (ENV_PIECE_BYTES, "piece_bytes", int),
        ):
            raw = env.get(name, "").strip()
            if raw:
                try:
                    values[key] = kind(raw)
                except ValueError:
                    raise ValueError(f"{name}={raw!r}: not a valid {kind.__name__}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values)
        except ValueError as exc:
            raise ValueError(f"halfpipe options from the environment: {exc}") from None

    def with_(self, **changes: Any) -> HalfpipeOptions:
        """A copy with ``changes`` (None values ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})
