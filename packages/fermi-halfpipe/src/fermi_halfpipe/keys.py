"""The configuration keys a physics-event datagram carries (``docs/formats/telemetry.md`` §4.2.1).

Every event datagram of format version 2 carries three 32-bit keys after its 32-byte header:
the **hardware key** (the LATC master key: the register configuration loaded into the LAT),
the **software key** (the flight-software/LPA configuration key) and the **MOOT key** (the
MOOT configuration the on-board set-up was made from, which also names the calibrations the
ground processing must use). The real halfpipe reads the first two from every datagram
(``DGM:`` index lines, ``hwkey swkey``) and maps runs to MOOT keys from a table; here all
three travel in the datagram and are checked against the mission-planning table
(:mod:`fermi_halfpipe.planning`). A version-1 datagram carries none: its keys are
:data:`~fermi_halfpipe.format.UNKNOWN_KEY`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fermi_halfpipe.format import DATAGRAM_KEYS_DTYPE, KEY_NAMES, UNKNOWN_KEY

__all__ = ["KEY_NAMES", "UNKNOWN_KEY", "ConfigKeys", "format_key"]


def format_key(value: int) -> str:
    """A key as operators read it: ``0x%08X``, or ``UNKNOWN`` for :data:`UNKNOWN_KEY`."""
    return "UNKNOWN" if int(value) == UNKNOWN_KEY else f"0x{int(value):08X}"


@dataclass(frozen=True, order=True)
class ConfigKeys:
    """The hardware, software and MOOT keys of a run (each an unsigned 32-bit integer)."""

    hw_key: int = UNKNOWN_KEY
    sw_key: int = UNKNOWN_KEY
    moot_key: int = UNKNOWN_KEY

    def __post_init__(self) -> None:
        for name in KEY_NAMES:
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or not 0 <= int(value) <= 0xFFFFFFFF:
                raise ValueError(f"configuration key {name}: {value!r} is not an unsigned 32-bit integer")
            object.__setattr__(self, name, int(value))

    @property
    def known(self) -> bool:
        """True when the data carried the keys (none is :data:`UNKNOWN_KEY`)."""
        return all(getattr(self, n) != UNKNOWN_KEY for n in KEY_NAMES)

    def as_dict(self) -> dict[str, int]:
        """``{"hw_key": ..., "sw_key": ..., "moot_key": ...}``."""
        return {n: int(getattr(self, n)) for n in KEY_NAMES}

    @classmethod
    def of(cls, mapping: dict[str, int] | None) -> ConfigKeys:
        """Keys from a mapping like :meth:`as_dict` (missing ones unknown)."""
        m = dict(mapping or {})
        return cls(*(int(m.get(n, UNKNOWN_KEY)) for n in KEY_NAMES))

    def block(self) -> bytes:
        """The 16-byte key block of a version-2 datagram (§4.2.1)."""
        b = np.zeros(1, DATAGRAM_KEYS_DTYPE)
        b["hw_key"], b["sw_key"], b["moot_key"] = self.hw_key, self.sw_key, self.moot_key
        return b.tobytes()

    def differences(self, other: ConfigKeys) -> list[str]:
        """The key names whose values differ between ``self`` and ``other``."""
        return [n for n in KEY_NAMES if getattr(self, n) != getattr(other, n)]

    def __str__(self) -> str:
        return ", ".join(f"{n} {format_key(getattr(self, n))}" for n in KEY_NAMES)
