"""Merge of the two EPU event streams by the 64-bit GEM sequence, and counter unrolling.

The heavy lifting is :func:`fermi_halfpipe._kernels.merge_order` (a two-pointer merge, linear)
with :func:`fermi_halfpipe._reference.merge_order` (concatenate + stable argsort) as its twin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fermi_halfpipe import _kernels, _reference


@dataclass
class MergeResult:
    """Result of :func:`merge_streams`.

    Attributes
    ----------
    order : int64 array
        Indices into the concatenation ``[a, b]`` of the kept events, in merged order.
    gem_seq : uint64 array
        Merged sequence (``concat[order]``), strictly increasing.
    duplicate : int64 array
        Indices into ``[a, b]`` of events dropped because the same GEM sequence came first
        (from ``a``, or earlier in merged order): reported, never silently lost.
    gap_before, gap_after : uint64 arrays
        Sequence values on each side of every hole in the merged sequence (``after − before > 1``).
    """

    order: np.ndarray
    gem_seq: np.ndarray
    duplicate: np.ndarray
    gap_before: np.ndarray
    gap_after: np.ndarray

    @property
    def missing(self) -> int:
        """Sequence numbers absent inside the merged range (filtered on board or lost)."""
        return int((self.gap_after - self.gap_before - 1).sum())


def merge_streams(seq_a: np.ndarray, seq_b: np.ndarray, engine: str = "numba") -> MergeResult:
    """Merge two strictly increasing GEM-sequence streams (EPU ``a`` and EPU ``b``).

    Raises
    ------
    ValueError
        Naming the stream and index of the first value not above its predecessor.
    """
    a = np.ascontiguousarray(seq_a, dtype=np.uint64)
    b = np.ascontiguousarray(seq_b, dtype=np.uint64)
    if engine == "numba":
        order, bad = _kernels.merge_order(a, b)
    elif engine == "reference":
        order, bad = _reference.merge_order(a, b)
    else:
        raise ValueError(f"parameter 'engine': 'numba' or 'reference', got {engine!r}")
    if bad >= 0:
        name, i, s = ("a", int(bad), a) if bad < a.size else ("b", int(bad) - a.size, b)
        raise ValueError(
            f"stream {name}: GEM sequence not increasing at index {i} ({int(s[i - 1])} then {int(s[i])})"
        )
    merged = np.concatenate([a, b])[order]
    same = np.zeros(merged.size, dtype=bool)
    same[1:] = merged[1:] == merged[:-1]
    keep = order[~same]
    seq = merged[~same]
    step = np.diff(seq)
    gaps = np.flatnonzero(step > 1)
    return MergeResult(keep, seq, order[same], seq[gaps], seq[gaps + 1])


def unroll_counter(
    values: np.ndarray, bits: int, anchor: int | None = None, engine: str = "numba"
) -> np.ndarray:
    """Unroll a ``bits``-wide wrapping counter into int64, in sending order.

    ``anchor`` is the unrolled value of ``values[0]`` (default: ``values[0]`` itself); it must
    agree with ``values[0]`` modulo ``2**bits``. Each following value is taken as the smallest
    forward step from its predecessor (a counter stream losing 2**bits or more in a row cannot
    be unrolled by any method).
    """
    v = np.ascontiguousarray(values, dtype=np.int64)
    if not 1 <= bits <= 62:
        raise ValueError(f"parameter 'bits': 1..62, got {bits}")
    if v.size and (v.min() < 0 or v.max() >= (1 << bits)):
        raise ValueError(f"parameter 'values': outside [0, 2**{bits})")
    start = int(v[0]) if v.size and anchor is None else int(anchor or 0)
    if v.size and start % (1 << bits) != v[0]:
        raise ValueError(f"parameter 'anchor': {start} does not agree with the first value {int(v[0])}")
    if engine == "numba":
        return _kernels.unroll(v, bits, start)
    if engine == "reference":
        return _reference.unroll(v, bits, start)
    raise ValueError(f"parameter 'engine': 'numba' or 'reference', got {engine!r}")


def nearest_unroll(raw: int, bits: int, reference: int) -> int:
    """Return the value ``≡ raw (mod 2**bits)`` nearest to the unrolled ``reference``."""
    mod = 1 << bits
    delta = (raw - reference) % mod
    if delta >= mod // 2:
        delta -= mod
    return reference + delta
