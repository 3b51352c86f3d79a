"""The gtselect cut objects: range, sky cone, bit mask, GTI and version cuts.

Each cut knows, as the ScienceTools ``dataSubselector`` cut classes do,

* its cfitsio filter-string text (:meth:`filter_string`),
* its data-subspace (DSS) keyword values (:meth:`dss_fields`),
* whether it is identical to another cut and whether it supersedes one
  (the "add cut" bookkeeping of :class:`~.selection.Selection`),
* which events it accepts (:meth:`accept`), with the conventions of the filter text:
  ranges half-open ``(min, max]`` (closed when ``min == max``), float32 columns
  promoted to double, cone ``angsep < r`` evaluated with the printed 10-digit numbers,
  bit masks ``(value & mask) != 0`` (pre-Pass 8: ``(value / mask) % 2 == 1``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from fermi_sciencetools_shim.gti import Gti

# PASS_VER values for which EVENT_CLASS bit masks are bit *positions* (dataSubselector post_P7).
PRE_P8_PASS_VERSIONS = frozenset({"", "NONE", "P6", "P7V6", "P7REP", "P8R0"})

CLOSED = "closed"
MINONLY = "minonly"
MAXONLY = "maxonly"


def is_post_p7(pass_ver: str) -> bool:
    """Return whether ``pass_ver`` uses Pass 8 bit-mask semantics (mask value, octal filter)."""
    return pass_ver not in PRE_P8_PASS_VERSIONS


def format_number(value: float) -> str:
    """Format a range bound as the ScienceTools do (``%.20g``)."""
    return f"{value:.20g}"


def format_cone_number(value: float) -> str:
    """Format a cone centre or radius as the ScienceTools do (10 significant digits)."""
    return f"{value:.10g}"


@dataclass(frozen=True)
class RangeCut:
    """Cut on one column value: ``(min, max]``, ``min < x`` or ``x <= max``.

    Parameters
    ----------
    column
        Column name without index (``ENERGY``, ``CALIB_VERSION``).
    unit
        DSS unit text (``MeV``, ``deg``, ``dimensionless`` ...).
    min, max
        Bounds; ``None`` makes the interval open on that side (not both).
    index
        1-based element of a vector column, 0 for a scalar column.
    """

    column: str
    unit: str
    min: float | None
    max: float | None
    index: int = 0
    kind_name: ClassVar[str] = "range"

    def __post_init__(self) -> None:
        if self.min is None and self.max is None:
            raise ValueError(f"range cut on {self.column} needs a minimum or a maximum")
        if self.index < 0:
            raise ValueError(f"range cut on {self.column}: negative vector index {self.index}")
        if self.min is not None:
            object.__setattr__(self, "min", float(self.min))
        if self.max is not None:
            object.__setattr__(self, "max", float(self.max))

    @property
    def interval_type(self) -> str:
        """``"closed"``, ``"minonly"`` or ``"maxonly"``."""
        if self.min is None:
            return MAXONLY
        if self.max is None:
            return MINONLY
        return CLOSED

    @property
    def full_name(self) -> str:
        """Column reference as in the filter string and DSTYP (``CALIB_VERSION[1]``)."""
        return f"{self.column}[{self.index}]" if self.index else self.column

    @classmethod
    def from_dss(cls, dstype: str, unit: str, value: str) -> RangeCut:
        """Parse a DSS range (``min:max``, ``:max`` or ``min:``) of column ``dstype``.

        Raises
        ------
        ValueError
            If ``value`` is not a range of numbers.
        """
        column, index = split_column_index(dstype)
        text = value.strip()
        if ":" not in text:
            raise ValueError(f"DSS range value {value!r} of {dstype} has no ':'")
        low, high = (part.strip() for part in text.split(":", 1))
        try:
            lo = float(low) if low else None
            hi = float(high) if high else None
        except ValueError:
            raise ValueError(f"DSS range value {value!r} of {dstype} is not numeric") from None
        if lo is None and hi is None:
            raise ValueError(f"DSS range value {value!r} of {dstype} has no bound")
        return cls(column, unit, lo, hi, index)

    def filter_string(self) -> str:
        """Return the cfitsio row-filter text of this cut."""
        name = self.full_name
        if self.max is None:
            return f"{format_number(self.min)} < {name}"
        if self.min is None:
            return f"{name} <= {format_number(self.max)}"
        op = "<=" if self.min == self.max else "<"
        return f"{format_number(self.min)} {op} {name} && {name} <= {format_number(self.max)}"

    def dss_fields(self) -> tuple[str, str, str, str | None]:
        """Return ``(DSTYP, DSUNI, DSVAL, DSREF)``."""
        low = "" if self.min is None else format_number(self.min)
        high = "" if self.max is None else format_number(self.max)
        return self.full_name, self.unit, f"{low}:{high}", None

    def identical(self, other: object) -> bool:
        """Return whether ``other`` is the same cut (same column, unit, type and bounds)."""
        return (
            isinstance(other, RangeCut)
            and (self.column, self.unit, self.index, self.interval_type)
            == (other.column, other.unit, other.index, other.interval_type)
            and self.min == other.min
            and self.max == other.max
        )

    def supersedes(self, other: object) -> bool:
        """Return whether this cut lies inside ``other`` (same column, index and interval type)."""
        if not isinstance(other, RangeCut):
            return False
        if (self.column, self.index, self.interval_type) != (other.column, other.index, other.interval_type):
            return False
        low_ok = self.min is None or other.min <= self.min
        high_ok = self.max is None or self.max <= other.max
        return low_ok and high_ok

    def values(self, events: Mapping[str, np.ndarray]) -> np.ndarray:
        """Return this cut's column values (element ``index`` of a vector column) as float64."""
        column = np.asarray(events[self.column])
        if self.index:
            if column.ndim != 2 or column.shape[1] < self.index:
                raise KeyError(f"{self.full_name} (column {self.column} has no element {self.index})")
            column = column[:, self.index - 1]
        return column.astype(np.float64)

    def accept(self, events: Mapping[str, np.ndarray]) -> np.ndarray:
        """Return the mask of accepted events (float32 values compared as double)."""
        x = self.values(events)
        if self.max is None:
            return self.min < x
        if self.min is None:
            return x <= self.max
        if self.min == self.max:
            return (self.min <= x) & (x <= self.max)
        return (self.min < x) & (x <= self.max)


def split_column_index(name: str) -> tuple[str, int]:
    """Split ``"CALIB_VERSION[1]"`` into ``("CALIB_VERSION", 1)`` (``("ENERGY", 0)`` if no index)."""
    text = name.strip()
    if "[" not in text:
        return text, 0
    column, rest = text.split("[", 1)
    try:
        return column.strip(), int(rest.rstrip("]").strip())
    except ValueError:
        raise ValueError(f"bad vector column reference {name!r}") from None


@dataclass(frozen=True)
class ConeCut:
    """Acceptance cone on the sky, ``angsep(RA, DEC, ra, dec) < radius`` (degrees, equatorial)."""

    ra: float
    dec: float
    radius: float
    kind_name: ClassVar[str] = "cone"

    def __post_init__(self) -> None:
        for name in ("ra", "dec", "radius"):
            object.__setattr__(self, name, float(getattr(self, name)))
        if not -90.0 <= self.dec <= 90.0:
            raise ValueError(f"cone declination {self.dec!r} is outside [-90, 90]")
        if self.radius < 0:
            raise ValueError(f"cone radius {self.radius!r} is negative")

    @property
    def center_ra(self) -> float:
        """Right ascension folded into [0, 360), as astro::SkyDir reports it."""
        ra = self.ra % 360.0
        return 0.0 if ra == 360.0 else ra

    @classmethod
    def from_dss(cls, dstype: str, unit: str, value: str) -> ConeCut:
        """Parse ``POS(RA,DEC)`` / ``CIRCLE(ra,dec,radius)`` (``POS(GLON,GLAT)`` is converted).

        Raises
        ------
        ValueError
            For a unit other than degrees or a malformed value.
        """
        if not unit.strip().lower().startswith("deg"):
            raise ValueError(f"cone unit {unit!r} is not supported (expected deg)")
        system = dstype.strip().upper()
        text = value.strip()
        try:
            inner = text[text.index("(") + 1 : text.rindex(")")]
            lon, lat, radius = (float(v) for v in inner.split(","))
        except ValueError:
            raise ValueError(f"cannot read cone {value!r}") from None
        if system.startswith("POS(RA"):
            return cls(lon, lat, radius)
        if system.startswith("POS(GLON"):
            from astropy.coordinates import SkyCoord

            icrs = SkyCoord(lon, lat, unit="deg", frame="galactic").fk5
            return cls(float(icrs.ra.deg), float(icrs.dec.deg), radius)
        raise ValueError(f"cone coordinate system {dstype!r} is not supported")

    def _printed(self) -> tuple[str, str, str]:
        return (
            format_cone_number(self.center_ra),
            format_cone_number(self.dec),
            format_cone_number(self.radius),
        )

    def filter_string(self) -> str:
        """Return ``angsep(RA,DEC,ra,dec) < radius`` with 10 significant digits."""
        ra, dec, radius = self._printed()
        return f"angsep(RA,DEC,{ra},{dec}) < {radius}"

    def dss_fields(self) -> tuple[str, str, str, str | None]:
        """Return ``("POS(RA,DEC)", "deg", "CIRCLE(ra,dec,radius)", None)``."""
        ra, dec, radius = self._printed()
        return "POS(RA,DEC)", "deg", f"CIRCLE({ra},{dec},{radius})", None

    def identical(self, other: object) -> bool:
        """Return whether ``other`` is a cone with exactly the same centre and radius."""
        return isinstance(other, ConeCut) and (self.ra, self.dec, self.radius) == (
            other.ra,
            other.dec,
            other.radius,
        )

    def supersedes(self, other: object) -> bool:
        """Return whether this cone lies entirely inside cone ``other``."""
        if not isinstance(other, ConeCut):
            return False
        from fermi_sciencetools_shim.select._reference import angular_separation

        separation = float(
            angular_separation(np.array([self.ra]), np.array([self.dec]), other.ra, other.dec)[0]
        )
        return self.radius <= other.radius - separation

    def accept(self, events: Mapping[str, np.ndarray]) -> np.ndarray:
        """Return ``angsep(RA, DEC, ra, dec) < radius`` using the numbers as printed in the filter."""
        from fermi_sciencetools_shim.select._kernels import cone_mask

        ra0, dec0, radius = (float(v) for v in self._printed())
        ra = np.ascontiguousarray(events["RA"], dtype=np.float64)
        dec = np.ascontiguousarray(events["DEC"], dtype=np.float64)
        if ra.size == 0:
            return np.zeros(0, dtype=bool)
        return cone_mask(ra, dec, ra0, dec0, radius)


@dataclass(frozen=True)
class BitMaskCut:
    """Bit-mask cut on ``EVENT_CLASS`` or ``EVENT_TYPE``.

    Parameters
    ----------
    column
        ``EVENT_CLASS`` or ``EVENT_TYPE``.
    mask
        The mask value (for pre-Pass 8 files: ``1 << bit position``).
    pass_ver
        Pass version written in the DSS (``""`` when the DSS had none).
    """

    column: str
    mask: int
    pass_ver: str = ""
    kind_name: ClassVar[str] = "bit_mask"

    def __post_init__(self) -> None:
        if not 0 < int(self.mask) < 2**32:
            raise ValueError(f"bit mask on {self.column} must be in 1..2**32-1, got {self.mask}")
        object.__setattr__(self, "mask", int(self.mask))

    @property
    def post_p7(self) -> bool:
        """Whether the Pass 8 semantics apply (DSS carries the mask value)."""
        return is_post_p7(self.pass_ver)

    @classmethod
    def from_dss(cls, dstype: str) -> BitMaskCut:
        """Parse ``BIT_MASK(EVENT_CLASS,128,P8R3)`` or ``BIT_MASK(EVENT_CLASS,2)`` (bit position)."""
        text = dstype.strip()
        try:
            inner = text[text.index("(") + 1 : text.rindex(")")]
        except ValueError:
            raise ValueError(f"cannot read bit mask {dstype!r}") from None
        tokens = [t.strip() for t in inner.split(",") if t.strip()]
        if len(tokens) not in (2, 3):
            raise ValueError(f"cannot read bit mask {dstype!r}")
        pass_ver = tokens[2] if len(tokens) == 3 else ""
        try:
            number = int(tokens[1])
        except ValueError:
            raise ValueError(f"bit mask {dstype!r}: {tokens[1]!r} is not an integer") from None
        if number < 0 or number > 0xFFFFFFFF:
            raise ValueError(f"bit mask {dstype!r}: {number} out of range")
        mask = number if is_post_p7(pass_ver) else 1 << number
        return cls(tokens[0], mask, pass_ver)

    @property
    def bit_position(self) -> int:
        """Position of the highest set bit (what pre-Pass 8 DSS keywords carry)."""
        return self.mask.bit_length() - 1

    @property
    def dstype(self) -> str:
        """``BIT_MASK(column,mask[,pass_ver])`` (bit position for pre-Pass 8)."""
        number = self.mask if self.post_p7 else self.bit_position
        suffix = f",{self.pass_ver}" if self.pass_ver else ""
        return f"BIT_MASK({self.column},{number}{suffix})"

    def filter_string(self) -> str:
        """``((COL&o<octal>) != o0)``, or ``((COL/<mask>)%2 == 1)`` before Pass 8."""
        if self.post_p7:
            return f"(({self.column}&o{self.mask:o}) != o0)"
        return f"(({self.column}/{self.mask})%2 == 1)"

    def dss_fields(self) -> tuple[str, str, str, str | None]:
        """Return ``(BIT_MASK(...), "DIMENSIONLESS", "1:1", None)``."""
        return self.dstype, "DIMENSIONLESS", "1:1", None

    def identical(self, other: object) -> bool:
        """Same column and same mask (the pass version is not compared)."""
        return isinstance(other, BitMaskCut) and (self.column, self.mask) == (other.column, other.mask)

    def supersedes(self, other: object) -> bool:
        """EVENT_TYPE and post-P7 EVENT_CLASS masks replace an existing one; pre-P8: larger mask wins."""
        if not isinstance(other, BitMaskCut) or other.column != self.column:
            return False
        if self.column == "EVENT_TYPE":
            return True
        if self.column == "EVENT_CLASS":
            return True if self.post_p7 else self.mask > other.mask
        return False

    def accept(self, events: Mapping[str, np.ndarray]) -> np.ndarray:
        """Return the mask of accepted events; the column must hold integers (decoded bits)."""
        value = np.asarray(events[self.column])
        if value.dtype.kind not in "iu":
            raise TypeError(f"{self.column} must be decoded to integers before a bit-mask cut")
        value = value.astype(np.int64)
        if self.post_p7:
            return (value & self.mask) != 0
        # cfitsio integer division truncates toward zero and C's % keeps the sign.
        quotient = np.where(value >= 0, value // self.mask, -((-value) // self.mask))
        return np.fmod(quotient, 2) == 1


@dataclass(frozen=True, eq=False)
class GtiCut:
    """The ``TIME``/``TABLE``/``:GTI`` cut: events inside the GTI (closed ``[START, STOP]``)."""

    gti: Gti
    kind_name: ClassVar[str] = "GTI"

    def filter_string(self) -> str:
        """Empty: gtselect appends ``gtifilter()`` itself at the end of the filter."""
        return ""

    def dss_fields(self) -> tuple[str, str, str, str | None]:
        """Return ``("TIME", "s", "TABLE", ":GTI")``."""
        return "TIME", "s", "TABLE", ":GTI"

    def identical(self, other: object) -> bool:
        """Same intervals."""
        return (
            isinstance(other, GtiCut)
            and len(other.gti) == len(self.gti)
            and bool(np.array_equal(self.gti.start, other.gti.start))
            and bool(np.array_equal(self.gti.stop, other.gti.stop))
        )

    def supersedes(self, other: object) -> bool:
        """GTI cuts never replace another cut."""
        return False

    def accept(self, events: Mapping[str, np.ndarray]) -> np.ndarray:
        """Return ``START <= TIME <= STOP`` for some interval."""
        return self.gti.contains(np.asarray(events["TIME"], dtype=np.float64))


@dataclass(frozen=True)
class VersionCut:
    """A ``*VERSION`` DSS entry (e.g. ``IRF_VERSION``): bookkeeping only, selects nothing."""

    column: str
    version: str
    kind_name: ClassVar[str] = "version"

    def filter_string(self) -> str:
        """Empty: a version cut does not filter rows."""
        return ""

    def dss_fields(self) -> tuple[str, str, str, str | None]:
        """Return ``(column, "DIMENSIONLESS", version, None)``."""
        return self.column, "DIMENSIONLESS", self.version, None

    def identical(self, other: object) -> bool:
        """Same column and version."""
        return isinstance(other, VersionCut) and (self.column, self.version) == (other.column, other.version)

    def supersedes(self, other: object) -> bool:
        """A new version of the same column replaces the old one."""
        return isinstance(other, VersionCut) and other.column == self.column

    def accept(self, events: Mapping[str, np.ndarray]) -> np.ndarray:
        """Accept every event."""
        n = len(np.asarray(next(iter(events.values())))) if events else 0
        return np.ones(n, dtype=bool)


Cut = RangeCut | ConeCut | BitMaskCut | GtiCut | VersionCut
