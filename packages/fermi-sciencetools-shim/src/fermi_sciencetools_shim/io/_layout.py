"""Column and keyword layouts shared by the FT1 and FT2 writers (from the fitsGen templates)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.io.fits.verify import VerifyWarning

from fermi_sciencetools_shim.time import MJDREFF, MJDREFI

_FORMAT_COMMENTS = {
    "D": "data format of field: 8-byte DOUBLE",
    "E": "data format of field: 4-byte REAL",
    "J": "data format of field: 4-byte signed INTEGER",
    "I": "data format of field: 2-byte signed INTEGER",
    "B": "data format of field: byte",
    "L": "data format of field: logical",
    "X": "data format of field: 32 bit array",
}


@dataclass(frozen=True)
class ColumnSpec:
    """One table column of a template: name, TFORM, unit and the TLMIN/TLMAX limits.

    ``cards`` lists which of ``TUNIT``/``TLMIN``/``TLMAX`` the template writes, in order.
    """

    name: str
    format: str
    comment: str
    unit: str | None = None
    tlmin: float | int | None = None
    tlmax: float | int | None = None
    cards: tuple[str, ...] = ("TUNIT", "TLMIN", "TLMAX")
    unit_comment: str = "physical unit of field"

    @property
    def dtype(self) -> np.dtype:
        """Native numpy dtype of one element."""
        code = self.format.lstrip("0123456789")
        return np.dtype({"D": "f8", "E": "f4", "J": "i4", "I": "i2", "B": "u1", "L": "?", "X": "?"}[code])

    @property
    def repeat(self) -> int:
        """Number of elements per row."""
        digits = self.format[: len(self.format) - len(self.format.lstrip("0123456789"))]
        return int(digits) if digits else 1

    def format_comment(self) -> str:
        """Comment of the ``TFORMn`` card."""
        return _FORMAT_COMMENTS[self.format.lstrip("0123456789")]

    def limit_cards(self, index: int) -> list[tuple[str, Any, str]]:
        """Return the ``TUNITn``/``TLMINn``/``TLMAXn`` cards of column ``index`` (1-based)."""
        out: list[tuple[str, Any, str]] = []
        for kind in self.cards:
            if kind == "TUNIT" and self.unit is not None:
                out.append((f"TUNIT{index}", self.unit, self.unit_comment))
            elif kind == "TLMIN" and self.tlmin is not None:
                out.append((f"TLMIN{index}", self.tlmin, "minimum value"))
            elif kind == "TLMAX" and self.tlmax is not None:
                out.append((f"TLMAX{index}", self.tlmax, "maximum value"))
        return out


#: Keyword -> (default value, comment) of the LAT templates. ``None`` means "computed".
STANDARD_KEYWORDS: dict[str, tuple[Any, str]] = {
    "TELESCOP": ("GLAST", "name of telescope generating data"),
    "INSTRUME": ("LAT", "name of instrument generating data"),
    "EQUINOX": (2000.0, "equinox for ra and dec"),
    "RADECSYS": ("FK5", "world coord. system for this file (FK5 or FK4)"),
    "DATE": (None, "file creation date (YYYY-MM-DDThh:mm:ss UT)"),
    "DATE-OBS": (None, "start date and time of the observation (UTC)"),
    "DATE-END": (None, "end date and time of the observation (UTC)"),
    "TSTART": (None, "mission time of the start of the observation"),
    "TSTOP": (None, "mission time of the end of the observation"),
    "TIMEUNIT": ("s", "units for the time related keywords"),
    "TIMEZERO": (0.0, "clock correction"),
    "TIMESYS": ("TT", "type of time system that is used"),
    "TIMEREF": ("LOCAL", "reference frame used for times"),
    "TASSIGN": ("SATELLITE", "location where time assignment performed"),
    "CLOCKAPP": (False, "whether a clock drift correction has been applied"),
    "GPS_OUT": (False, "whether GPS time was unavailable at any time during this interval"),
    "MJDREFI": (float(MJDREFI), "Integer part of MJD corresponding to SC clock start"),
    "MJDREFF": (MJDREFF, "Fractional part of MJD corresponding to SC clock start"),
    "OBSERVER": ("Peter Michelson", "GLAST/LAT PI"),
    "FILENAME": (None, "name of this file"),
    "ORIGIN": ("LISOC", "name of organization making file"),
    "CREATOR": ("fermi-sciencetools-shim", "software and version creating file"),
    "VERSION": ("1", "release version of the file"),
    "PROC_VER": (None, "processing version of this file"),
    "EXTNAME": (None, "name of this binary table extension"),
    "HDUCLASS": ("OGIP", "format conforms to OGIP standard"),
    "HDUCLAS1": (None, "extension contains events"),
    "HDUCLAS2": ("ALL", "extension contains all events detected"),
    "PASS_VER": ("P8R3", "IRF pass version corresponding to a specific set of event classes"),
    "NDIFRSP": (5, "Number of diffuse response labels"),
    "ONTIME": (None, "sum of GTI lengths"),
    "TELAPSE": (None, "TSTOP - TSTART"),
}


def keyword_card(key: str, values: Mapping[str, Any]) -> tuple[str, Any, str] | None:
    """Return ``(key, value, comment)`` from ``values`` or the template default (None if neither)."""
    default, comment = STANDARD_KEYWORDS.get(key, (None, ""))
    value = values.get(key, default)
    if isinstance(value, tuple):
        value, comment = value
    if value is None:
        return None
    return (key, value, comment)


def build_table_hdu(
    specs: Sequence[ColumnSpec],
    data: Mapping[str, np.ndarray],
    nrows: int,
    extra: Sequence[str] = (),
) -> fits.BinTableHDU:
    """Return a BINTABLE with ``specs`` columns (then ``extra`` data columns), limits not yet written."""
    columns = []
    bit_columns = []
    for spec in specs:
        array = np.asarray(data[spec.name])
        if spec.format.endswith("X"):
            # given to astropy as its raw form (the packed bytes, an ``nB`` column), then declared
            # ``X``: astropy's per-bit wrapping of a boolean array is never run (see pack_bits)
            packed = pack_bits(array, spec.repeat)
            columns.append(fits.Column(name=spec.name, format=f"{packed.shape[1]}B", array=packed))
            bit_columns.append(spec)
            continue
        if spec.repeat > 1 and array.ndim == 1:
            array = array.reshape(nrows, spec.repeat)
        columns.append(
            fits.Column(name=spec.name, format=spec.format, array=array.astype(spec.dtype, copy=False))
        )
    for name in extra:
        array = np.asarray(data[name])
        columns.append(fits.Column(name=name, format=_format_of(array), array=array))
    hdu = fits.BinTableHDU.from_columns(columns, nrows=nrows)
    for spec in bit_columns:  # same bytes per row: the raw field is read as the bits from now on
        hdu.columns[spec.name].format = fits.Column(name=spec.name, format=spec.format).format
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VerifyWarning)
        for i, spec in enumerate(specs, start=1):
            hdu.header.comments[f"TTYPE{i}"] = fit_comment(f"TTYPE{i}", spec.name, spec.comment)
            hdu.header.comments[f"TFORM{i}"] = spec.format_comment()
    return hdu


def pack_bits(values: np.ndarray, nbits: int) -> np.ndarray:
    """Return the raw bytes of an ``nbitsX`` column: ``(n, ceil(nbits / 8))`` ``uint8``.

    The FITS bit array (standard 4.0, section 7.3.3.1): bit 0 of a row is the most significant bit
    of its first byte, the unused bits of the last byte are zero -- the bytes astropy's own
    conversion of a boolean column writes, made here in one numpy operation.

    Parameters
    ----------
    values
        ``(n, nbits)`` booleans (element 0 first), or ``(n,)`` non-negative integers below
        ``2**nbits`` (element 0 = the most significant bit of the value).
    nbits
        Bits per row (the repeat count of the ``X`` format).

    Raises
    ------
    ValueError
        For integers outside ``[0, 2**nbits)``, or booleans of another shape.
    """
    array = np.asarray(values)
    nbytes = (nbits + 7) // 8
    if array.dtype == bool:
        if array.ndim != 2 or array.shape[1] != nbits:
            raise ValueError(f"bit array of shape {array.shape}, expected (rows, {nbits})")
        return np.packbits(array, axis=1, bitorder="big")
    v = array.astype(np.int64).reshape(-1)
    if nbits > 63 or np.any(v < 0) or np.any(v >= (np.int64(1) << nbits)):
        raise ValueError(f"bit values must lie in [0, 2**{nbits})")
    u = v.astype(np.uint64) << np.uint64(8 * nbytes - nbits)  # left-aligned: unused = low bits
    shifts = np.arange(8 * (nbytes - 1), -1, -8, dtype=np.uint64)
    return ((u[:, None] >> shifts) & np.uint64(0xFF)).astype(np.uint8)


def unpack_bits_value(raw: np.ndarray, nbits: int) -> np.ndarray:
    """Return the ``int64`` value of each row of raw ``nbitsX`` bytes (bit 0 the most significant).

    The inverse of :func:`pack_bits` for integers (at most 63 bits); the unused low bits of the
    last byte are ignored, as astropy's conversion to booleans ignores them.
    """
    raw = np.asarray(raw, dtype=np.uint8)
    nbytes = (nbits + 7) // 8
    if nbits > 63:
        raise ValueError(f"bit-array column has {nbits} bits; at most 63 fit an int64")
    if raw.ndim != 2 or raw.shape[1] != nbytes:
        raise ValueError(f"raw bit column of shape {raw.shape}, expected (rows, {nbytes})")
    value = np.zeros(raw.shape[0], dtype=np.uint64)
    for k in range(nbytes):
        value = (value << np.uint64(8)) | raw[:, k].astype(np.uint64)
    return (value >> np.uint64(8 * nbytes - nbits)).astype(np.int64)


def bit_array_width(column_format: object) -> int | None:
    """Bits of an ``nX`` column format (``"32X"`` -> 32), None for any other format."""
    text = str(column_format).strip().upper()
    digits = text[:-1]
    if not text.endswith("X") or not (digits == "" or digits.isdigit()):
        return None
    return int(digits or 1)


def table_hdu(data: fits.FITS_rec, header: fits.Header | None = None) -> fits.BinTableHDU:
    """Return ``fits.BinTableHDU(data=data, header=header)``, the same HDU and bytes, faster.

    astropy converts every ``X`` (bit array) column of the rows to booleans when an HDU is made
    from them and back to bytes when it is written, one numpy pass per bit. Here the bit columns
    are declared as bytes (``nB``, the same raw field) while the HDU is made, then as ``X`` again:
    the rows' bytes are written as they are. ``data`` (e.g. ``hdu.data[keep]`` of a table read
    from a file) must not hold bit values changed through astropy's boolean view.
    """
    bits = [(c.name, c.format) for c in data.columns if bit_array_width(c.format) is not None]
    for name, fmt in bits:
        data.columns[name].format = fits.Column(
            name=name, format=f"{(bit_array_width(fmt) + 7) // 8}B"
        ).format
    hdu = fits.BinTableHDU(data=data, header=header)
    for name, fmt in bits:
        hdu.columns[name].format = fmt
        data.columns[name].format = fmt
    return hdu


def _format_of(array: np.ndarray) -> str:
    code = {"f8": "D", "f4": "E", "i8": "K", "i4": "J", "i2": "I", "u1": "B", "b1": "L"}.get(
        array.dtype.newbyteorder("=").str[1:]
    )
    if code is None:
        raise ValueError(f"cannot write a column of dtype {array.dtype}")
    repeat = int(np.prod(array.shape[1:])) if array.ndim > 1 else 1
    return f"{repeat}{code}" if repeat > 1 else code


def fit_comment(key: str, value: Any, comment: str) -> str:
    """Return ``comment`` cut so that the card fits in 80 columns (cfitsio truncates the same way)."""
    while comment:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", VerifyWarning)
            _ = fits.Card(key, value, comment).image
        if not caught:
            break
        comment = comment[:-1]
    return comment


def append_cards(header: fits.Header, cards: Sequence[tuple[str, Any, str] | None]) -> None:
    """Append cards at the end of ``header`` (``None`` entries are skipped)."""
    with warnings.catch_warnings():
        # long template comments are truncated to the 80-column card, as cfitsio does
        warnings.simplefilter("ignore", VerifyWarning)
        for card in cards:
            if card is not None:
                key, value, comment = card
                header.append((key, value, fit_comment(key, value, comment)), end=True)
