"""FT1 (LAT event) files: reading EVENTS and GTI, bit-array columns, the Pass 8 writer.

An FT1 file is ``PRIMARY`` + ``EVENTS`` + ``GTI``. ``EVENT_CLASS``/``EVENT_TYPE`` are
``32X`` bit arrays in L1/FSSC files, ``32L`` logical arrays in files rewritten by astropy,
and ``J`` integers before Pass 8; :func:`decode_bits` turns all three into integers.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from fermi_sciencetools_shim.atomic import atomic_output
from fermi_sciencetools_shim.errors import InputFileError, ParameterError
from fermi_sciencetools_shim.gti import Gti, consolidate, union
from fermi_sciencetools_shim.io._layout import (
    ColumnSpec,
    append_cards,
    bit_array_width,
    build_table_hdu,
    keyword_card,
    unpack_bits_value,
)
from fermi_sciencetools_shim.io.dss import DssKey, write_dss
from fermi_sciencetools_shim.io.fitsfile import open_fits
from fermi_sciencetools_shim.io.headers import file_date
from fermi_sciencetools_shim.time import date_obs

PathLike = str | os.PathLike[str]

#: Columns decoded from bit arrays to integers by :func:`read_events`.
BIT_COLUMNS = ("EVENT_CLASS", "EVENT_TYPE")

_DEG = "deg"
_BIG_INT = 2147483647
_SHORT = 32767

#: The 23 EVENTS columns of a Pass 8 FT1 file, in template order (fitsGen ``ft1.tpl``).
FT1_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("ENERGY", "E", "energy of event", "MeV", 0.0, 1.0e7),
    ColumnSpec("RA", "E", "right ascension (J2000) of event", _DEG, 0.0, 360.0),
    ColumnSpec("DEC", "E", "declination (J2000) of event", _DEG, -90.0, 90.0),
    ColumnSpec("L", "E", "Galactic longitude of event", _DEG, 0.0, 360.0),
    ColumnSpec("B", "E", "Galactic latitude of event", _DEG, -90.0, 90.0),
    ColumnSpec("THETA", "E", "inclination angle of event in instrument coordinates", _DEG, 0.0, 180.0),
    ColumnSpec("PHI", "E", "azimuthal angle of event in instrument coordinates", _DEG, 0.0, 360.0),
    ColumnSpec("ZENITH_ANGLE", "E", "zenith angle of event", _DEG, 0.0, 180.0),
    ColumnSpec("EARTH_AZIMUTH_ANGLE", "E", "Earth azimuth (from north to east) of event", _DEG, 0.0, 360.0),
    ColumnSpec("TIME", "D", "Mission Elapsed Time", "s", 0.0, 1.0e10),
    ColumnSpec("EVENT_ID", "J", "ID number of original event", None, 0, _BIG_INT),
    ColumnSpec("RUN_ID", "J", "Run number of original event", None, 0, _BIG_INT),
    ColumnSpec("RECON_VERSION", "I", "version of event reconstruction software", None, 0, _SHORT),
    ColumnSpec("CALIB_VERSION", "3I", "versions of calibration tables for the ACD, CAL", None),
    ColumnSpec("EVENT_CLASS", "32X", "event class: 0, 1, 2,...", None, 0, _SHORT),
    ColumnSpec("EVENT_TYPE", "32X", "event types encoded as bit array", None, 0, _SHORT),
    ColumnSpec(
        "CONVERSION_TYPE", "I", "type of conversion: 0=Front converting, 1=Back converting", None, 0, _SHORT
    ),
    ColumnSpec("LIVETIME", "D", "Accumulated livetime since mission start", "s", 0.0, 1.0e10),
    *(ColumnSpec(f"DIFRSP{i}", "E", "Diffuse response component", None, 0.0, 1.0e38) for i in range(5)),
)

#: Columns that :func:`write_ft1` fills with zeros when they are not given.
OPTIONAL_COLUMNS = ("RECON_VERSION", "CALIB_VERSION", *(f"DIFRSP{i}" for i in range(5)))

GTI_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("START", "D", "start time of good time intervals", "s", 0.0, 1.0e10),
    ColumnSpec("STOP", "D", "stop time of good time intervals", "s", 0.0, 1.0e10),
)

PRIMARY_KEYS = (
    "TELESCOP", "INSTRUME", "EQUINOX", "RADECSYS", "DATE", "DATE-OBS", "DATE-END", "TSTART", "TSTOP",
    "TIMEUNIT", "TIMEZERO", "TIMESYS", "TIMEREF", "CLOCKAPP", "GPS_OUT", "MJDREFI", "MJDREFF",
    "OBSERVER", "FILENAME", "ORIGIN", "CREATOR", "VERSION", "PROC_VER",
)  # fmt: skip
_TABLE_KEYS = (
    "TELESCOP", "INSTRUME", "EQUINOX", "RADECSYS", "DATE", "DATE-OBS", "DATE-END", "OBSERVER", "ORIGIN",
    "EXTNAME", "HDUCLASS", "HDUCLAS1", "HDUCLAS2", "TSTART", "TSTOP", "MJDREFI", "MJDREFF", "TIMEUNIT",
    "TIMEZERO", "TIMESYS", "TIMEREF", "CLOCKAPP", "GPS_OUT",
)  # fmt: skip
EVENTS_KEYS = (*_TABLE_KEYS, "PASS_VER", "NDIFRSP", *(f"DIFRSP{i}" for i in range(5)))
GTI_KEYS = (*_TABLE_KEYS, "ONTIME", "TELAPSE")


# --------------------------------------------------------------------------- bit arrays
def decode_bits(column: np.ndarray) -> np.ndarray:
    """Return the integer value of bit-array (``32X``/``32L``) or integer (``J``) column data.

    Parameters
    ----------
    column
        ``(n, k)`` booleans with element 0 the most significant bit (how astropy returns
        ``32X`` and ``32L`` columns), or ``(n,)`` integers.

    Returns
    -------
    numpy.ndarray
        ``int64`` values, ``sum(bit[i] * 2**(k-1-i))``.
    """
    array = np.asarray(column)
    if array.dtype == bool or array.dtype.kind == "b":
        if array.ndim != 2:
            raise ValueError(f"bit-array column must be 2-d (rows, bits), got shape {array.shape}")
        nbits = array.shape[1]
        if nbits > 63:
            raise ValueError(f"bit-array column has {nbits} bits; at most 63 fit an int64")
        weights = np.left_shift(np.int64(1), np.arange(nbits - 1, -1, -1, dtype=np.int64))
        return array.astype(np.int64) @ weights
    if array.dtype.kind in "iu":
        return array.astype(np.int64).reshape(array.shape[0]) if array.ndim > 1 else array.astype(np.int64)
    raise ValueError(f"cannot decode a bit column of dtype {array.dtype}")


def decode_bit_column(column: np.ndarray, path: PathLike, evtable: str, name: str) -> np.ndarray:
    """Return :func:`decode_bits` of a column, or raise an error naming the file and the column.

    Raises
    ------
    InputFileError
        If the column is neither a bit array (``32X``/``32L``) nor an integer column (``J``),
        e.g. a float column written by a user's script.
    """
    try:
        return decode_bits(column)
    except ValueError as exc:
        dtype = np.asarray(column).dtype
        kind = {"f": "floating-point", "c": "complex", "U": "text", "S": "text"}.get(dtype.kind, str(dtype))
        raise InputFileError(
            path,
            f"{evtable} column {name} is {kind} ({dtype.str}); a class or type column must be a bit "
            f"array (32X/32L) or an integer (J) ({exc})",
        ) from None


def encode_bits(values: np.ndarray, nbits: int = 32) -> np.ndarray:
    """Return the ``(n, nbits)`` boolean array (element 0 = most significant bit) of integers."""
    v = np.asarray(values, dtype=np.int64).ravel()
    if np.any(v < 0) or np.any(v >= (np.int64(1) << nbits)):
        raise ValueError(f"bit values must lie in [0, 2**{nbits})")
    shifts = np.arange(nbits - 1, -1, -1, dtype=np.int64)
    return ((v[:, None] >> shifts) & 1).astype(bool)


# --------------------------------------------------------------------------- reading
def _open(path: PathLike) -> fits.HDUList:
    return open_fits(path)


def _table(hdul: fits.HDUList, path: PathLike, extname: str) -> fits.BinTableHDU:
    try:
        hdu = hdul[extname]
    except KeyError:
        names = ", ".join(h.name for h in hdul)
        raise InputFileError(path, f"has no {extname} extension (HDUs: {names})") from None
    if not isinstance(hdu, fits.BinTableHDU):
        raise InputFileError(path, f"extension {extname} is not a binary table")
    return hdu


def native(array: np.ndarray) -> np.ndarray:
    """Return a contiguous copy of ``array`` in native byte order (what numba kernels need)."""
    out = np.ascontiguousarray(array)
    if out.dtype.byteorder not in ("=", "|"):
        out = out.astype(out.dtype.newbyteorder("="))
    return np.array(out, copy=True)


def _as_paths(path: PathLike | Iterable[PathLike]) -> list[PathLike]:
    if isinstance(path, (str, os.PathLike)):
        return [path]
    return list(path)


def read_gti_file(path: PathLike, extname: str = "GTI") -> Gti:
    """Return the GTI extension of one file as stored (consolidated only if unsorted or overlapping).

    Raises
    ------
    InputFileError
        If the file has no GTI extension (e.g. gtbary output) or its GTI is malformed.
    """
    with _open(path) as hdul:
        names = [h.name for h in hdul]
        if extname not in names:
            raise InputFileError(
                path, f"has no {extname} extension (HDUs: {', '.join(names)}); good time intervals unknown"
            )
        data = hdul[extname].data
        try:
            start = native(data["START"]).astype(np.float64)
            stop = native(data["STOP"]).astype(np.float64)
        except KeyError:
            raise InputFileError(path, f"{extname} extension lacks a START or STOP column") from None
    bad = np.flatnonzero(stop < start)
    if bad.size:
        raise InputFileError(
            path, f"{extname} row {int(bad[0]) + 1}: STOP {stop[bad[0]]!r} < START {start[bad[0]]!r}"
        )
    if start.size > 1 and np.any(start[1:] < stop[:-1]):
        return consolidate(start, stop)
    return Gti(start, stop)


def read_gti(path: PathLike | Iterable[PathLike], extname: str = "GTI") -> Gti:
    """Return the good time intervals of one FT1 file, or the union over several files.

    A file without a GTI extension (a gtbary output, for instance) is an error: there is
    no safe default, since assuming ``[TSTART, TSTOP]`` would count dead time as exposure.

    Raises
    ------
    InputFileError
        Naming the file that is missing or has no GTI extension.
    """
    paths = _as_paths(path)
    gtis = [read_gti_file(p, extname) for p in paths]
    return gtis[0] if len(gtis) == 1 else union(*gtis)


def read_events(
    path: PathLike, columns: Sequence[str] | None = None, evtable: str = "EVENTS"
) -> tuple[dict[str, np.ndarray], fits.Header]:
    """Read event columns of an FT1 file.

    Parameters
    ----------
    path
        FT1 file.
    columns
        Column names (case-insensitive); all columns when None.
    evtable
        Extension name.

    Returns
    -------
    dict, astropy.io.fits.Header
        Native-endian arrays keyed by upper-case column name (``EVENT_CLASS`` and
        ``EVENT_TYPE`` decoded to ``int64``), and a copy of the extension header.

    Raises
    ------
    InputFileError
        For a missing file/extension or a requested column that is not there.
    """
    with _open(path) as hdul:
        hdu = _table(hdul, path, evtable)
        available = {name.upper(): name for name in hdu.columns.names}
        wanted = list(available) if columns is None else [c.upper() for c in columns]
        missing = [c for c in wanted if c not in available]
        if missing:
            raise InputFileError(
                path, f"{evtable} has no column {', '.join(missing)} (has: {', '.join(available)})"
            )
        out: dict[str, np.ndarray] = {}
        data = hdu.data
        for name in wanted:
            values = (
                bit_column_values(data, available[name]) if data is not None and name in BIT_COLUMNS else None
            )
            if values is not None:  # from the raw bytes: no per-bit booleans
                out[name] = values
                continue
            raw = data.field(available[name]) if data is not None else np.empty(0)
            if name in BIT_COLUMNS:
                out[name] = decode_bit_column(raw, path, evtable, name)
            else:
                out[name] = native(raw)
        header = hdu.header.copy()
    return out, header


def bit_column_values(data: fits.FITS_rec, name: str) -> np.ndarray | None:
    """Return the ``int64`` values of an ``nX`` column (n <= 63) from its raw bytes, else None.

    The same values as :func:`decode_bits` of astropy's boolean view, without making that view.
    ``data`` is a table as read from a file (bit values not changed through astropy's view).
    """
    nbits = bit_array_width(data.columns[name].format)
    if nbits is None or not 0 < nbits <= 63:
        return None
    return unpack_bits_value(np.asarray(data)[name], nbits)


def pass_version(header: fits.Header, path: PathLike = "EVENTS header") -> str:
    """Return ``PASS_VER`` (``P8R3``, ``P8R2``, ``P7V6``, ``NONE`` ...) of an EVENTS header.

    Raises
    ------
    InputFileError
        If the keyword is missing (gtselect refuses such files too).
    """
    value = header.get("PASS_VER")
    if value is None:
        raise InputFileError(path, "EVENTS header has no PASS_VER keyword (pass version unknown)")
    return str(value).strip()


# --------------------------------------------------------------------------- writing
def _gti_hdu(
    gti: Gti, keywords: Mapping[str, Any], tstart: float, tstop: float, date: str
) -> fits.BinTableHDU:
    hdu = build_table_hdu(GTI_COLUMNS, {"START": gti.start, "STOP": gti.stop}, len(gti))
    values = {
        **keywords,
        "EXTNAME": "GTI",
        "HDUCLAS1": ("GTI", "extension contains good time intervals"),
        "HDUCLAS2": ("ALL", "extension contains all science time"),
        "ONTIME": gti.ontime,
        "TELAPSE": tstop - tstart,
    }
    _fill_header(hdu.header, GTI_KEYS, values, tstart, tstop, date)
    for i, spec in enumerate(GTI_COLUMNS, start=1):
        append_cards(hdu.header, spec.limit_cards(i))
    hdu.header.append(("EXTVER", 1, "auto assigned by template parser"), end=True)
    return hdu


def _fill_header(
    header: fits.Header,
    keys: Sequence[str],
    values: Mapping[str, Any],
    tstart: float,
    tstop: float,
    date: str,
) -> None:
    computed = {
        "DATE": date,
        "DATE-OBS": date_obs(tstart),
        "DATE-END": date_obs(tstop),
        "TSTART": tstart,
        "TSTOP": tstop,
    }
    merged = {**computed, **values}
    merged["TSTART"], merged["TSTOP"] = tstart, tstop
    append_cards(header, [keyword_card(k, merged) for k in keys])


def write_ft1(
    path: PathLike,
    events: Mapping[str, np.ndarray],
    gti: Gti,
    header_keywords: Mapping[str, Any] | None = None,
    *,
    dss: Sequence[DssKey] = (),
    history: Sequence[str] = (),
    clobber: bool = True,
) -> Path:
    """Write a Pass 8 FT1 file (PRIMARY + EVENTS + GTI) with the L1 template layout.

    Parameters
    ----------
    path
        Output file (written atomically: no partial file on error).
    events
        Column name -> array. The 23 Pass 8 columns are written first in template order
        (``RECON_VERSION``, ``CALIB_VERSION`` and ``DIFRSP0..4`` default to zeros);
        ``EVENT_CLASS``/``EVENT_TYPE`` may be integers or ``(n, 32)`` booleans. Any other
        column is appended after them, in the given order.
    gti
        Good time intervals (``ONTIME`` is computed from them).
    header_keywords
        Keyword values (or ``(value, comment)``) overriding the template: ``TSTART``/``TSTOP``
        (default: GTI limits, else event time range), ``ORIGIN``, ``CREATOR``, ``VERSION``,
        ``PROC_VER``, ``PASS_VER``, ``DIFRSPn``, ``TIMEREF``, ``FILENAME`` (default: output
        basename) ... Keywords unknown to the template are appended to the EVENTS header.
    dss
        Data-subspace keys written at the end of the EVENTS header.
    history
        ``HISTORY`` lines for the EVENTS header.
    clobber
        Overwrite an existing file.

    Returns
    -------
    pathlib.Path
        The output path.
    """
    keywords = dict(header_keywords or {})
    names = {name.upper(): name for name in events}
    nrows = None
    data: dict[str, np.ndarray] = {}
    for spec in FT1_COLUMNS:
        if spec.name in names:
            array = np.asarray(events[names[spec.name]])  # bit columns: packed by build_table_hdu
            data[spec.name] = array
            nrows = array.shape[0] if nrows is None else nrows
            if array.shape[0] != nrows:
                raise ParameterError(
                    "events", f"column {spec.name} has {array.shape[0]} rows, expected {nrows}"
                )
        elif spec.name not in OPTIONAL_COLUMNS:
            raise ParameterError("events", f"required FT1 column {spec.name} is missing")
    nrows = int(nrows or 0)
    for name in OPTIONAL_COLUMNS:
        if name not in data:
            spec = next(s for s in FT1_COLUMNS if s.name == name)
            shape = (nrows, spec.repeat) if spec.repeat > 1 else (nrows,)
            data[name] = np.zeros(shape, dtype=spec.dtype)
    extra = [names[n] for n in names if n not in {s.name for s in FT1_COLUMNS}]
    for name in extra:
        data[name] = np.asarray(events[name])

    times = np.asarray(data["TIME"], dtype=np.float64)
    default_start = gti.tmin if len(gti) else (float(times.min()) if times.size else 0.0)
    default_stop = gti.tmax if len(gti) else (float(times.max()) if times.size else 0.0)
    tstart = float(keywords.pop("TSTART", default_start))
    tstop = float(keywords.pop("TSTOP", default_stop))
    keywords.setdefault("FILENAME", Path(path).name)
    keywords.setdefault("PROC_VER", 305)
    for i in range(5):
        keywords.setdefault(f"DIFRSP{i}", ("NONE", f"Diffuse response label for component {i}"))
    date = file_date()

    primary = fits.PrimaryHDU()
    _fill_header(primary.header, PRIMARY_KEYS, keywords, tstart, tstop, date)

    evt = build_table_hdu(FT1_COLUMNS, data, nrows, extra=extra)
    _fill_header(
        evt.header,
        EVENTS_KEYS,
        {**keywords, "EXTNAME": "EVENTS", "HDUCLAS1": ("EVENTS", "extension contains events")},
        tstart,
        tstop,
        date,
    )
    for i, spec in enumerate(FT1_COLUMNS, start=1):
        append_cards(evt.header, spec.limit_cards(i))
    evt.header.append(("EXTVER", 1, "auto assigned by template parser"), end=True)
    known = set(EVENTS_KEYS) | set(PRIMARY_KEYS) | {"TSTART", "TSTOP"}
    for key, value in keywords.items():
        if key not in known:
            evt.header.append((key, *value) if isinstance(value, tuple) else (key, value), end=True)
    for line in history:
        evt.header.add_history(line)
    write_dss(evt.header, dss) if dss else None

    gti_hdu = _gti_hdu(gti, keywords, tstart, tstop, date)
    with atomic_output(path, clobber=clobber) as tmp:
        fits.HDUList([primary, evt, gti_hdu]).writeto(tmp, checksum=True)
    return Path(path)
