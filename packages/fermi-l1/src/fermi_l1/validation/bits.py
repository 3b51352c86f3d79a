"""Names of the Pass 8 ``EVENT_CLASS`` and ``EVENT_TYPE`` bits (products.md section 4, evtUtils)."""

from __future__ import annotations

import numpy as np

#: EVENT_CLASS bit position -> class name.
CLASS_BITS: dict[int, str] = {
    0: "TRANSIENT100A", 1: "TRANSIENT100E", 2: "TRANSIENT100", 3: "TRANSIENT020E", 4: "TRANSIENT020",
    5: "TRANSIENT010E", 6: "TRANSIENT010", 7: "SOURCE", 8: "CLEAN", 9: "ULTRACLEAN", 10: "ULTRACLEANVETO",
    11: "SOURCEVETO", 15: "TRANSIENT100S", 16: "TRANSIENT015S", 24: "LLE",
}  # fmt: skip
#: EVENT_TYPE bit position -> type name.
TYPE_BITS: dict[int, str] = {
    0: "FRONT", 1: "BACK", 2: "PSF0", 3: "PSF1", 4: "PSF2", 5: "PSF3",
    6: "EDISP0", 7: "EDISP1", 8: "EDISP2", 9: "EDISP3",
}  # fmt: skip
#: The bit columns and their names.
BIT_NAMES = {"EVENT_CLASS": CLASS_BITS, "EVENT_TYPE": TYPE_BITS}


def bit_name(column: str, bit: int) -> str:
    """The name of bit ``bit`` of ``column`` (``bit<N>`` when Pass 8 does not define it)."""
    return BIT_NAMES[column].get(bit, f"bit{bit}")


def bit_counts(values: np.ndarray, nbits: int = 32) -> np.ndarray:
    """Number of events with each bit set, ``(nbits,)``, from decoded integer bit columns."""
    v = np.asarray(values, dtype=np.int64).ravel()
    shifts = np.arange(nbits, dtype=np.int64)
    return ((v[:, None] >> shifts) & 1).sum(axis=0) if v.size else np.zeros(nbits, dtype=np.int64)
