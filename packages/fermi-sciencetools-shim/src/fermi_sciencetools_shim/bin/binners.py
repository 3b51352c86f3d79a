"""One-dimensional binners with the evtbin rules.

Every bin is half-open, ``lo <= v < hi`` (the opposite of gtselect's ``(min, max]`` ranges):
an event at exactly the upper limit is not binned.

* :meth:`Binner.linear`: ``nbins = ceil((hi - lo) / width)``, index ``int((v - lo) / width)``,
  the last bin's upper edge truncated to ``hi``.
* :meth:`Binner.log`: index ``int(n ln(v / lo) / ln(hi / lo))``, edges ``lo exp(i ln(hi/lo) / n)``
  with the first and last edge exactly ``lo`` and ``hi``.
* :meth:`Binner.intervals` / :func:`read_bin_file`: arbitrary ordered intervals (gaps allowed) as
  written by gtbindef (``ENERGYBINS`` in keV, ``TIMEBINS`` in s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fermi_sciencetools_shim.bin import _kernels
from fermi_sciencetools_shim.errors import InputFileError, ParameterError
from fermi_sciencetools_shim.io.fitsfile import open_fits
from fermi_sciencetools_shim.io.limits import check_allocation

#: Bytes per bin while binners and their histograms are built (edges, centres, counts, errors).
_BIN_BYTES = 48


@dataclass(frozen=True)
class Binner:
    """Ordered half-open bins ``[lo[i], hi[i])``.

    Attributes
    ----------
    lo, hi
        Bin edges (float64 arrays of equal length).
    kind
        ``"LIN"``, ``"LOG"`` or ``"FILE"``; selects the index rule.
    """

    lo: np.ndarray
    hi: np.ndarray
    kind: str
    _start: float = 0.0
    _stop: float = 0.0
    _width: float = 0.0

    @property
    def nbins(self) -> int:
        """Number of bins."""
        return int(self.lo.size)

    @property
    def centers(self) -> np.ndarray:
        """Arithmetic bin midpoints."""
        return 0.5 * (self.lo + self.hi)

    @property
    def widths(self) -> np.ndarray:
        """Bin widths ``hi - lo``."""
        return self.hi - self.lo

    @classmethod
    def linear(cls, lo: float, hi: float, width: float, *, name: str = "bin width") -> Binner:
        """Linear bins of ``width`` from ``lo`` to ``hi`` (last bin truncated at ``hi``)."""
        if not width > 0:
            raise ParameterError(name, f"must be positive (got {width!r})")
        if not hi > lo:
            raise ParameterError(name, f"upper limit {hi!r} must exceed lower limit {lo!r}")
        n = math.ceil((hi - lo) / width)
        check_allocation(float(n) * _BIN_BYTES, f"{n} bins of width {width!r} from {lo!r} to {hi!r}", name)
        edges_lo = lo + width * np.arange(n, dtype=np.float64)
        edges_hi = np.minimum(edges_lo + width, hi)
        return cls(edges_lo, edges_hi, "LIN", float(lo), float(hi), float(width))

    @classmethod
    def log(cls, lo: float, hi: float, nbins: int, *, name: str = "enumbins") -> Binner:
        """``nbins`` logarithmic bins from ``lo`` to ``hi`` (both > 0)."""
        if nbins is None or nbins < 1:
            raise ParameterError(name, f"must be a positive integer (got {nbins!r})")
        if not (lo > 0 and hi > lo):
            raise ParameterError(name, f"logarithmic bins need 0 < lower ({lo!r}) < upper ({hi!r})")
        check_allocation(float(nbins) * _BIN_BYTES, f"{nbins} logarithmic bins", name)
        step = math.log(hi / lo) / nbins
        edges = lo * np.exp(step * np.arange(nbins + 1, dtype=np.float64))
        edges[0], edges[-1] = lo, hi
        return cls(edges[:-1].copy(), edges[1:].copy(), "LOG", float(lo), float(hi), float(nbins))

    @classmethod
    def intervals(cls, lo: np.ndarray, hi: np.ndarray, *, name: str = "bin file") -> Binner:
        """Arbitrary intervals, which must be ordered and non-overlapping."""
        lo = np.ascontiguousarray(lo, dtype=np.float64)
        hi = np.ascontiguousarray(hi, dtype=np.float64)
        if lo.size == 0:
            raise ParameterError(name, "contains no bins")
        bad = np.flatnonzero(~(hi > lo))
        if bad.size:
            raise ParameterError(name, f"bin {bad[0]} is empty or reversed ({lo[bad[0]]!r}, {hi[bad[0]]!r})")
        bad = np.flatnonzero(lo[1:] < hi[:-1])
        if bad.size:
            raise ParameterError(
                name, f"bin {bad[0] + 1} starts before bin {bad[0]} ends (bins must be ordered)"
            )
        return cls(lo, hi, "FILE")

    def index(self, values: np.ndarray) -> np.ndarray:
        """Return the int64 bin index of each value, -1 outside every bin."""
        values = np.ascontiguousarray(values, dtype=np.float64)
        if self.kind == "LIN":
            return _kernels.linear_index(values, self._start, self._stop, self._width)
        if self.kind == "LOG":
            return _kernels.log_index(values, self._start, self._stop, int(self._width))
        return _kernels.interval_index(values, self.lo, self.hi)


def read_bin_file(path: str | Path, kind: str) -> Binner:
    """Read a gtbindef bin file.

    Parameters
    ----------
    path
        FITS file with an ``ENERGYBINS`` (columns ``E_MIN``/``E_MAX`` in keV, returned in MeV)
        or ``TIMEBINS`` (``START``/``STOP`` in s) extension.
    kind
        ``"energy"`` or ``"time"``.

    Raises
    ------
    InputFileError
        If the file, the extension or its columns are missing.
    """
    extname, cols, scale = (
        ("ENERGYBINS", ("E_MIN", "E_MAX"), 1e-3) if kind == "energy" else ("TIMEBINS", ("START", "STOP"), 1.0)
    )
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "bin definition file not found")
    try:
        with open_fits(path) as hdul:
            if extname not in hdul:
                raise InputFileError(path, f"no {extname} extension (make it with gtbindef)")
            data = hdul[extname].data
            names = [n.upper() for n in data.columns.names]
            for col in cols:
                if col not in names:
                    raise InputFileError(path, f"{extname} extension has no {col} column")
            lo = np.asarray(data[cols[0]], dtype=np.float64) * scale
            hi = np.asarray(data[cols[1]], dtype=np.float64) * scale
    except OSError as exc:
        raise InputFileError(path, f"cannot read as FITS ({exc})") from None
    try:
        return Binner.intervals(lo, hi, name=str(path))
    except ParameterError as exc:
        raise InputFileError(path, f"{extname}: {exc.reason}") from None
