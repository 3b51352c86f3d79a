"""An ordered list of cuts with the gtselect bookkeeping (dataSubselector ``Cuts``).

* :meth:`Selection.from_dss` reads the cuts of an event file's DSS keywords,
* :meth:`Selection.add` applies the "add cut" rules (identical -> dropped, supersedes ->
  replaced in place, superseded -> dropped, otherwise appended),
* :meth:`Selection.merge_range_cuts` replaces all range cuts by one merged cut per column,
  appended in alphabetical column order,
* :meth:`Selection.filter_string` and :meth:`Selection.dss_fields` give the filter text and
  the DSS keyword values (TIME ranges are not written; they live in the GTI),
* :meth:`Selection.mask` evaluates the filter on event columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fermi_sciencetools_shim import gti as gti_algebra
from fermi_sciencetools_shim.gti import Gti
from fermi_sciencetools_shim.select.cuts import (
    BitMaskCut,
    ConeCut,
    Cut,
    GtiCut,
    RangeCut,
    VersionCut,
    split_column_index,
)


class DssError(ValueError):
    """A DSS keyword set cannot be turned into cuts (names the key)."""


def _is_time_range(cut: Cut) -> bool:
    return isinstance(cut, RangeCut) and cut.column == "TIME"


@dataclass
class Selection:
    """Cuts in application order.

    Attributes
    ----------
    cuts
        The cut objects, in the order their filters are AND-ed and their DSS keys written.
    messages
        Warnings produced while adding cuts (e.g. an event-class selection overwritten).
    """

    cuts: list[Cut] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    @classmethod
    def from_dss(
        cls,
        keys: Iterable[Any],
        *,
        gti: Gti | None = None,
        columns: Sequence[str] | None = None,
        skip_time_ranges: bool = True,
        source: str = "",
    ) -> Selection:
        """Build the cuts described by DSS keys (objects with ``type``, ``unit``, ``value``, ``ref``).

        Parameters
        ----------
        keys
            DSS keys in keyword order (``io.dss.DssKey`` or anything with those attributes).
        gti
            The file's GTI, used for a ``TIME``/``TABLE`` key (required if there is one).
        columns
            Column names of the table; a range key on a column not in it is an error.
            ``None`` skips that check.
        skip_time_ranges
            Ignore ``TIME`` range keys (gtselect folds time ranges into the GTI).
        source
            File name used in error messages.

        Raises
        ------
        DssError
            For a key that matches no known scheme, naming the key number and ``source``.
        """
        where = f"{source}: " if source else ""
        upper_columns = None if columns is None else {c.upper() for c in columns}
        selection = cls()
        for number, key in enumerate(keys, start=1):
            dstype = str(key.type).strip()
            unit = str(key.unit).strip()
            value = str(key.value).strip().upper()
            column, _ = split_column_index(dstype) if not dstype.upper().startswith("BIT_MASK") else ("", 0)
            try:
                if value.startswith("CIRCLE"):
                    selection.cuts.append(ConeCut.from_dss(dstype, unit, value))
                elif dstype == "TIME" and value == "TABLE":
                    if gti is None:
                        raise DssError(f"{where}DSTYP{number} = TIME/TABLE but no GTI was given")
                    selection.cuts.append(GtiCut(gti))
                elif dstype.upper().startswith("BIT_MASK"):
                    selection.cuts.append(BitMaskCut.from_dss(dstype))
                elif dstype.upper().endswith("VERSION"):
                    selection.cuts.append(VersionCut(column, value))
                elif value != "TABLE" and (upper_columns is None or column.upper() in upper_columns):
                    if column == "TIME" and skip_time_ranges:
                        continue
                    selection.cuts.append(RangeCut.from_dss(dstype, unit, value))
                else:
                    raise DssError(
                        f"{where}unrecognized DSS filtering scheme in key {number}: "
                        f"DSTYP{number}={dstype!r} DSUNI{number}={unit!r} DSVAL{number}={value!r}"
                        + ("" if upper_columns is None else " (no such column)")
                    )
            except DssError:
                raise
            except ValueError as exc:
                raise DssError(f"{where}DSS key {number} ({dstype}={value}): {exc}") from None
        return selection

    @classmethod
    def merge_files(cls, selections: Sequence[Selection], names: Sequence[str] | None = None) -> Selection:
        """Combine the cuts read from several event files (dataSubselector ``mergeGtis``).

        Every file must carry the same non-GTI cuts. The result holds the first file's
        non-GTI cuts (added with :meth:`add`) followed by one GTI cut, the union of all
        the files' GTIs. Note that this moves the ``TIME``/``TABLE`` cut after the
        file's other cuts, as the ScienceTools do, even for a single file.

        Raises
        ------
        DssError
            If a file's cuts differ from the first file's (naming both files).
        """
        if not selections:
            raise ValueError("no selection to merge")
        names = list(names) if names is not None else [f"file {i + 1}" for i in range(len(selections))]
        first = selections[0]
        for name, other in zip(names[1:], selections[1:], strict=True):
            if not first.same_without_gtis(other):
                raise DssError(f"DSS keywords in {name} do not match those in {names[0]}")
        merged = cls()
        for cut in first.cuts:
            if not isinstance(cut, GtiCut):
                merged.add(cut)
        gtis = [c.gti for s in selections for c in s.cuts if isinstance(c, GtiCut)]
        if gtis:
            union = gti_algebra.union(*gtis)
            if len(union):
                merged.cuts.append(GtiCut(union))
        return merged

    def __len__(self) -> int:
        return len(self.cuts)

    def __iter__(self):
        return iter(self.cuts)

    def add(self, new: Cut) -> None:
        """Add ``new`` with the dataSubselector rules.

        Identical cut present -> dropped; ``new`` supersedes an existing cut -> replaces it
        in place; an existing cut supersedes ``new`` -> dropped; otherwise appended.
        """
        if any(new.identical(cut) for cut in self.cuts):
            return
        for j, cut in enumerate(self.cuts):
            if new.supersedes(cut):
                if (
                    isinstance(new, BitMaskCut)
                    and isinstance(cut, BitMaskCut)
                    and new.column == "EVENT_CLASS"
                    and new.post_p7
                    and new.mask != cut.mask
                ):
                    self.messages.append(
                        f"Over writing existing event class selection,\n  {cut.dstype}\nwith\n  {new.dstype}"
                    )
                self.cuts[j] = new
                return
            if cut.supersedes(new):
                return
        self.cuts.append(new)

    def merge_range_cuts(self) -> None:
        """Replace the range cuts by one merged cut per column, appended alphabetically.

        The merged cut has the largest minimum and the smallest maximum (a side stays open
        only if it is open in every cut); unit from the first cut of that column.
        """
        ranges = [c for c in self.cuts if isinstance(c, RangeCut)]
        if not ranges:
            return
        self.cuts = [c for c in self.cuts if not isinstance(c, RangeCut)]
        for key in sorted({(c.column, c.index) for c in ranges}):
            group = [c for c in ranges if (c.column, c.index) == key]
            mins = [c.min for c in group if c.min is not None]
            maxs = [c.max for c in group if c.max is not None]
            self.cuts.append(
                RangeCut(
                    key[0],
                    group[0].unit,
                    max(mins) if mins else None,
                    min(maxs) if maxs else None,
                    key[1],
                )
            )

    def filter_string(self) -> str:
        """Return the cfitsio filter: the cuts' texts joined by `` && `` then ``gtifilter()``."""
        parts = [text for text in (c.filter_string() for c in self.cuts) if text]
        parts.append("gtifilter()")
        return " && ".join(parts)

    def dss_fields(self) -> list[tuple[str, str, str, str | None]]:
        """Return ``(DSTYP, DSUNI, DSVAL, DSREF)`` per written key (TIME ranges skipped)."""
        return [c.dss_fields() for c in self.cuts if not _is_time_range(c)]

    def dss_keys(self) -> list[Any]:
        """Return the DSS keys to write, as ``io.dss.DssKey`` objects."""
        from fermi_sciencetools_shim.io.dss import DssKey

        return [DssKey(t, u, v, r) for t, u, v, r in self.dss_fields()]

    @property
    def gti(self) -> Gti | None:
        """Union of the GTI cuts' intervals, or ``None`` if there is no GTI cut."""
        gtis = [c.gti for c in self.cuts if isinstance(c, GtiCut)]
        return gti_algebra.union(*gtis) if gtis else None

    def time_range(self) -> tuple[float | None, float | None] | None:
        """Return the merged TIME range ``(min, max)`` (``None`` sides open), or ``None``."""
        ranges = [c for c in self.cuts if _is_time_range(c)]
        if not ranges:
            return None
        mins = [c.min for c in ranges if c.min is not None]
        maxs = [c.max for c in ranges if c.max is not None]
        return (max(mins) if mins else None, min(maxs) if maxs else None)

    def apply_time_range(self, gti: Gti) -> Gti:
        """Return ``gti`` intersected with the TIME range cut (unchanged if there is none)."""
        bounds = self.time_range()
        if bounds is None or len(gti) == 0:
            return gti
        low = gti.tmin if bounds[0] is None else bounds[0]
        high = gti.tmax if bounds[1] is None else bounds[1]
        if high < low:
            return Gti.empty()
        return gti.clip(low, high)

    def same_without_gtis(self, other: Selection) -> bool:
        """Return whether both have the same non-GTI cuts (the multi-file consistency rule)."""
        mine = [c for c in self.cuts if not isinstance(c, GtiCut)]
        theirs = [c for c in other.cuts if not isinstance(c, GtiCut)]
        return len(mine) == len(theirs) and all(any(c.identical(d) for d in mine) for c in theirs)

    def mask(self, events: Mapping[str, np.ndarray], gti: Gti | None) -> np.ndarray:
        """Evaluate the filter string on event columns.

        Parameters
        ----------
        events
            Columns by name; ``EVENT_CLASS``/``EVENT_TYPE`` decoded to integers.
        gti
            The GTI ``gtifilter()`` uses (the input file's own GTI extension); ``None``
            means the file has none and no event passes, as cfitsio finds no interval.

        Raises
        ------
        KeyError
            If a cut needs a column that ``events`` lacks (the message names it).
        """
        n = len(np.asarray(events["TIME"]))
        keep = np.ones(n, dtype=bool)
        for cut in self.cuts:
            if isinstance(cut, GtiCut):
                continue  # the GTI test is gtifilter(), with the file's own GTI, below
            keep &= cut.accept(events)
        if gti is None:
            return np.zeros(n, dtype=bool)
        keep &= gti.contains(np.asarray(events["TIME"], dtype=np.float64))
        return keep
