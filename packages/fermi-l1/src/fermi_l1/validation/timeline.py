"""Time coverage: GTI differences of event files, FT2 row and LIVETIME differences.

GTIs are compared as sets of time: the time covered by exactly one of the two versions, with the
intervals that make it up. FT2 rows are matched by ``START``; a row differs when any column does
by more than ``atol + rtol |old|``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fermi_l1.validation.events import changed_mask
from fermi_sciencetools_shim.gti import Gti, intersection, union
from fermi_sciencetools_shim.io.ft1 import read_gti_file
from fermi_sciencetools_shim.io.ft2 import read_ft2


def subtract(a: Gti, b: Gti) -> Gti:
    """The time of ``a`` not covered by ``b``."""
    if len(a) == 0 or len(b) == 0:
        return a
    lo, hi = min(a.tmin, b.tmin) - 1.0, max(a.tmax, b.tmax) + 1.0
    gaps = Gti(np.concatenate([[lo], b.stop]), np.concatenate([b.start, [hi]]))
    keep = gaps.stop > gaps.start
    return intersection(a, Gti(gaps.start[keep], gaps.stop[keep]))


@dataclass
class GtiDiff:
    """GTI comparison of one event file type over all runs."""

    data_type: str
    old: Gti
    new: Gti
    only_old: Gti
    only_new: Gti

    @property
    def difference(self) -> float:
        """Seconds covered by exactly one of the two versions."""
        return self.only_old.ontime + self.only_new.ontime

    @property
    def relative(self) -> float:
        """:attr:`difference` over the old on-time (the difference itself when that is 0)."""
        return self.difference / self.old.ontime if self.old.ontime > 0 else self.difference


def compare_gti(data_type: str, old_paths: Sequence[Path], new_paths: Sequence[Path]) -> GtiDiff:
    """Compare the GTI extensions of the old and the new files (each side's runs united)."""
    old = union(*(read_gti_file(p) for p in old_paths))
    new = union(*(read_gti_file(p) for p in new_paths))
    return GtiDiff(data_type, old, new, subtract(old, new), subtract(new, old))


@dataclass
class Ft2Diff:
    """FT2 comparison over all runs (rows matched by START)."""

    n_old: int
    n_new: int
    removed: int
    added: int
    differing: int
    columns: dict[str, dict[str, float]]  # column -> {"rows": differing rows, "max_abs": largest |diff|}
    livetime_old: float
    livetime_new: float
    start: np.ndarray = field(repr=False)  # START of the matched rows
    livetime_pair: tuple[np.ndarray, np.ndarray] = field(repr=False)  # LIVETIME old/new, matched rows

    @property
    def fraction(self) -> float:
        """Rows removed, added or differing, over the old row count."""
        bad = self.removed + self.added + self.differing
        return bad / self.n_old if self.n_old else float(bad)

    @property
    def livetime_relative(self) -> float:
        """Relative change of the total LIVETIME."""
        d = abs(self.livetime_new - self.livetime_old)
        return d / self.livetime_old if self.livetime_old > 0 else d


def compare_ft2(old_paths: Sequence[Path], new_paths: Sequence[Path], *, atol: float, rtol: float) -> Ft2Diff:
    """Compare FT2 files row by row, rows matched by ``START``."""
    old, new = read_ft2(list(old_paths)), read_ft2(list(new_paths))
    s_old, s_new = old["START"], new["START"]
    common, ia, ib = np.intersect1d(s_old, s_new, return_indices=True)
    differing = np.zeros(common.size, dtype=bool)
    columns: dict[str, dict[str, float]] = {}
    for name in old:
        if name == "START" or name not in new:
            continue
        a, b = old[name][ia], new[name][ib]
        mask = changed_mask(a, b, atol, rtol)
        if mask.any():
            differing |= mask
            delta = 0.0
            if a.dtype.kind in "iuf":
                with np.errstate(invalid="ignore"):
                    delta = float(np.nanmax(np.abs(b[mask].astype(np.float64) - a[mask].astype(np.float64))))
            columns[name] = {"rows": int(mask.sum()), "max_abs": delta}
    return Ft2Diff(
        n_old=int(s_old.size), n_new=int(s_new.size), removed=int(s_old.size - common.size),
        added=int(s_new.size - common.size), differing=int(differing.sum()), columns=columns,
        livetime_old=float(np.sum(old["LIVETIME"])), livetime_new=float(np.sum(new["LIVETIME"])),
        start=common, livetime_pair=(old["LIVETIME"][ia], new["LIVETIME"][ib]),
    )  # fmt: skip
