"""FT2 (spacecraft pointing and livetime history) files: reading and the L1 writer.

An FT2 file is ``PRIMARY`` + ``SC_DATA``; each row is an interval ``[START, STOP)`` with
the pointing at ``START``. Current files have 30 columns (``"30"`` layout, FSSC P202/P310);
the 2011 ft2Util files have 27 (no ``LAMBDA``/``RA_SUN``/``DEC_SUN``, ``DATA_QUAL`` a byte).
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
from fermi_sciencetools_shim.io._layout import ColumnSpec, append_cards, build_table_hdu, keyword_card
from fermi_sciencetools_shim.io.ft1 import _as_paths, _open, _table, native
from fermi_sciencetools_shim.io.headers import file_date
from fermi_sciencetools_shim.time import date_obs

PathLike = str | os.PathLike[str]

_DIMLESS = "physical unit of field: dimensionless"
_ANGLE = dict(unit="deg", unit_comment=_DIMLESS)


def _radec(ra: str, dec: str, what: str) -> tuple[ColumnSpec, ColumnSpec]:
    return (
        ColumnSpec(ra, "E", f"viewing direction at START (RA of {what})", tlmin=0.0, tlmax=360.0, **_ANGLE),
        ColumnSpec(
            dec, "E", f"viewing direction at START (Dec of {what})", tlmin=-90.0, tlmax=90.0, **_ANGLE
        ),
    )


_SCZ = _radec("RA_SCZ", "DEC_SCZ", "S/C +z axis")
_SCX = _radec("RA_SCX", "DEC_SCX", "S/C +x axis")

#: The 30 SC_DATA columns of current FT2 files, in template order.
FT2_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("START", "D", "STARTing time of interval (Mission Elapsed Time)", "s", 0.0, 1.0e10),
    ColumnSpec("STOP", "D", "ending time of interval (Mission Elapsed Time)", "s", 0.0, 1.0e10),
    ColumnSpec("SC_POSITION", "3E", "S/C position at START of interval (x,y,z inertial coordinates)", "m"),
    ColumnSpec("LAT_GEO", "E", "ground point latitude", "deg", -90.0, 90.0),
    ColumnSpec("LON_GEO", "E", "ground point longitude", "deg", 0.0, 360.0),
    ColumnSpec("RAD_GEO", "D", "S/C altitude", "m", 0.0, 10000.0),
    ColumnSpec("RA_ZENITH", "E", "RA of zenith direction at START", tlmin=0.0, tlmax=360.0, **_ANGLE),
    ColumnSpec("DEC_ZENITH", "E", "Dec of zenith direction at START", tlmin=-90.0, tlmax=90.0, **_ANGLE),
    ColumnSpec("B_MCILWAIN", "E", "McIlwain B parameter, magnetic field", "Gauss", 0.0, 100.0),
    ColumnSpec("L_MCILWAIN", "E", "McIlwain L parameter, distance", "Earth_Radii", 0.0, 100.0),
    ColumnSpec(
        "GEOMAG_LAT", "E", "invariant geomagnetic latitude", "deg", 0.0, 90.0,
        cards=("TLMIN", "TLMAX", "TUNIT"), unit_comment="physical unit",
    ),
    ColumnSpec(
        "LAMBDA", "E", "effective geomagnetic latitude (signed to indicate N/S)", "deg", -90.0, 90.0,
        cards=("TLMIN", "TLMAX", "TUNIT"), unit_comment="physical unit",
    ),
    ColumnSpec("IN_SAA", "L", "whether spacecraft was in SAA"),
    *_SCZ,
    *_SCX,
    ColumnSpec("RA_NPOLE", "E", "RA of north orbital pole at START", tlmin=0.0, tlmax=360.0, **_ANGLE),
    ColumnSpec("DEC_NPOLE", "E", "Dec of north orbital pole at START", tlmin=-90.0, tlmax=90.0, **_ANGLE),
    ColumnSpec("ROCK_ANGLE", "E", "angle z axis from zenith (+=north) at START", tlmin=-180.0, tlmax=180.0, **_ANGLE),
    ColumnSpec("LAT_MODE", "J", "attitude mode of LAT"),
    ColumnSpec("LAT_CONFIG", "B", "flag for config. of LAT (1=nominal sci. config)"),
    ColumnSpec("DATA_QUAL", "I", "flag for quality of data (1=nominal)"),
    ColumnSpec("LIVETIME", "D", "livetime", "s"),
    ColumnSpec("QSJ_1", "D", "First component of SC attitude quaternion"),
    ColumnSpec("QSJ_2", "D", "Second component of SC attitude quaternion"),
    ColumnSpec("QSJ_3", "D", "Third component of SC attitude quaternion"),
    ColumnSpec("QSJ_4", "D", "Fourth component of SC attitude quaternion"),
    ColumnSpec("RA_SUN", "E", "RA of Sun", "deg", 0.0, 360.0, unit_comment="physical unit of field: degrees"),
    ColumnSpec("DEC_SUN", "E", "DEC of Sun", "deg", -90.0, 90.0, unit_comment="physical unit of field: degrees"),
)  # fmt: skip

_OLD_ONLY = {"LAMBDA", "RA_SUN", "DEC_SUN"}
#: The 27 columns of the 2011 ft2Util template (``DATA_QUAL`` is a byte there).
FT2_COLUMNS_27: tuple[ColumnSpec, ...] = tuple(
    ColumnSpec(s.name, "B", s.comment) if s.name == "DATA_QUAL" else s
    for s in FT2_COLUMNS
    if s.name not in _OLD_ONLY
)
LAYOUTS = {"30": FT2_COLUMNS, "27": FT2_COLUMNS_27}

PRIMARY_KEYS = (
    "TELESCOP", "INSTRUME", "EQUINOX", "RADECSYS", "DATE", "DATE-OBS", "DATE-END", "TSTART", "TSTOP",
    "TIMESYS", "TIMEUNIT", "GPS_OUT", "MJDREFI", "MJDREFF", "OBSERVER", "FILENAME", "ORIGIN", "CREATOR",
    "VERSION", "PROC_VER",
)  # fmt: skip
SC_DATA_KEYS = (
    "TELESCOP", "INSTRUME", "EQUINOX", "RADECSYS", "DATE", "DATE-OBS", "DATE-END", "OBSERVER", "ORIGIN",
    "EXTNAME", "TSTART", "TSTOP", "MJDREFI", "MJDREFF", "TIMEUNIT", "TIMEZERO", "TIMESYS", "TIMEREF",
    "TASSIGN", "CLOCKAPP", "GPS_OUT",
)  # fmt: skip


def _promote(array: np.ndarray) -> np.ndarray:
    kind = array.dtype.kind
    if kind == "f":
        return np.asarray(array, dtype=np.float64)
    if kind in "iu":
        return np.asarray(array, dtype=np.int64)
    return native(array)


def read_ft2(
    paths: PathLike | Iterable[PathLike], columns: Sequence[str] | None = None, sctable: str = "SC_DATA"
) -> dict[str, np.ndarray]:
    """Read FT2 columns, concatenating the files in the given order.

    Parameters
    ----------
    paths
        One FT2 file or several.
    columns
        Column names (case-insensitive); every column of the first file when None.
    sctable
        Extension name.

    Returns
    -------
    dict
        Upper-case column name -> array: floating columns as ``float64``, integers as
        ``int64``, logicals as ``bool``; vector columns (``SC_POSITION``) as ``(n, 3)``.

    Raises
    ------
    InputFileError
        For a missing file or extension, or a column absent from one of the files.
    """
    files = _as_paths(paths)
    if not files:
        raise ParameterError("scfile", "no FT2 file given")
    parts: dict[str, list[np.ndarray]] = {}
    wanted: list[str] | None = None if columns is None else [c.upper() for c in columns]
    for path in files:
        with _open(path) as hdul:
            hdu = _table(hdul, path, sctable)
            available = {name.upper(): name for name in hdu.columns.names}
            if wanted is None:
                wanted = list(available)
            missing = [c for c in wanted if c not in available]
            if missing:
                raise InputFileError(path, f"{sctable} has no column {', '.join(missing)}")
            data = hdu.data
            for name in wanted:
                raw = data.field(available[name]) if data is not None else np.empty(0)
                parts.setdefault(name, []).append(_promote(raw))
    assert wanted is not None
    return {name: np.concatenate(parts[name]) if len(parts[name]) > 1 else parts[name][0] for name in wanted}


#: Columns that must be finite in every row (directions).
POINTING_COLUMNS = ("RA_SCZ", "DEC_SCZ", "RA_SCX", "DEC_SCX", "RA_ZENITH", "DEC_ZENITH")


def check_ft2_rows(
    path: PathLike, cols: Mapping[str, np.ndarray], previous: tuple[float, str] | None = None
) -> None:
    """Refuse FT2 rows the livetime and exposure sums cannot use, naming the file and the row.

    Checked, for the columns present in ``cols``: ``START`` finite and strictly increasing
    (a repeated ``START`` would count its livetime twice), ``STOP >= START``, ``LIVETIME``
    finite and not negative, pointing directions finite. ``previous`` is the last ``START``
    of the file before (and that file's name), for a list of FT2 files.

    Raises
    ------
    InputFileError
        Naming ``path``, the 1-based row and the reason.
    """
    start = cols.get("START")
    if start is not None and start.size:
        bad = np.flatnonzero(~np.isfinite(start))
        if bad.size:
            raise InputFileError(path, f"SC_DATA row {bad[0] + 1}: START is {float(start[bad[0]])!r}")
        step = np.diff(start)
        bad = np.flatnonzero(step <= 0)
        if bad.size:
            k = int(bad[0]) + 1
            how = "repeats the START of" if step[bad[0]] == 0 else "is before the START of"
            raise InputFileError(
                path,
                f"SC_DATA row {k + 1}: START {float(start[k])!r} {how} row {k} (rows must be in time order)",
            )
        if previous is not None and start[0] <= previous[0]:
            raise InputFileError(
                path,
                f"SC_DATA row 1: START {float(start[0])!r} is not after the last START {previous[0]!r} of {previous[1]} "
                "(FT2 files must be listed in time order without overlap)",
            )
        stop = cols.get("STOP")
        if stop is not None:
            bad = np.flatnonzero(~(stop >= start))
            if bad.size:
                k = int(bad[0])
                raise InputFileError(
                    path, f"SC_DATA row {k + 1}: STOP {float(stop[k])!r} is before START {float(start[k])!r}"
                )
    livetime = cols.get("LIVETIME")
    if livetime is not None:
        bad = np.flatnonzero(~(livetime >= 0))
        if bad.size:
            k = int(bad[0])
            raise InputFileError(
                path, f"SC_DATA row {k + 1}: LIVETIME {float(livetime[k])!r} is negative or not a number"
            )
    for name in POINTING_COLUMNS:
        values = cols.get(name)
        if values is not None:
            bad = np.flatnonzero(~np.isfinite(values))
            if bad.size:
                k = int(bad[0])
                raise InputFileError(
                    path, f"SC_DATA row {k + 1}: {name} is {float(values[k])!r} (pointing unknown)"
                )


def read_ft2_checked(
    paths: PathLike | Iterable[PathLike], columns: Sequence[str], sctable: str = "SC_DATA"
) -> dict[str, np.ndarray]:
    """Read FT2 columns like :func:`read_ft2`, checking each file's rows with :func:`check_ft2_rows`."""
    files = _as_paths(paths)
    if not files:
        raise ParameterError("scfile", "no FT2 file given")
    parts: list[dict[str, np.ndarray]] = []
    previous: tuple[float, str] | None = None
    for path in files:
        cols = read_ft2(path, columns, sctable)
        check_ft2_rows(path, cols, previous)
        if cols["START"].size if "START" in cols else False:
            previous = (float(cols["START"][-1]), str(path))
        parts.append(cols)
    if len(parts) == 1:
        return parts[0]
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def ft2_layout(names: Iterable[str]) -> str:
    """Return ``"30"`` or ``"27"``: the template whose columns match ``names``."""
    upper = {n.upper() for n in names}
    return "30" if _OLD_ONLY <= upper else "27"


def write_ft2(
    path: PathLike,
    data: Mapping[str, np.ndarray],
    header_keywords: Mapping[str, Any] | None = None,
    *,
    layout: str | None = None,
    history: Sequence[str] = (),
    clobber: bool = True,
) -> Path:
    """Write an FT2 file (PRIMARY + SC_DATA) with the L1 template layout.

    Parameters
    ----------
    path
        Output file (written atomically).
    data
        Column name -> array; every column of the layout is required.
    header_keywords
        Keyword overrides (``ORIGIN``, ``CREATOR``, ``VERSION``, ``PROC_VER``, ``FILENAME``
        (default: output basename), ``TSTART``/``TSTOP`` (default: first START, last STOP) ...).
    layout
        ``"30"`` (current) or ``"27"`` (2011 ft2Util); default: guessed from the columns.
    history
        ``HISTORY`` lines for SC_DATA.
    clobber
        Overwrite an existing file.
    """
    names = {n.upper(): n for n in data}
    layout = layout or ft2_layout(names)
    if layout not in LAYOUTS:
        raise ParameterError("layout", f"{layout!r} is not one of {', '.join(LAYOUTS)}")
    specs = LAYOUTS[layout]
    missing = [s.name for s in specs if s.name not in names]
    if missing:
        raise ParameterError(
            "data", f"FT2 column(s) {', '.join(missing)} missing for the {layout}-column layout"
        )
    columns = {s.name: np.asarray(data[names[s.name]]) for s in specs}
    nrows = columns["START"].shape[0]
    for name, array in columns.items():
        if array.shape[0] != nrows:
            raise ParameterError("data", f"column {name} has {array.shape[0]} rows, expected {nrows}")
    keywords = dict(header_keywords or {})
    tstart = float(keywords.pop("TSTART", columns["START"][0] if nrows else 0.0))
    tstop = float(keywords.pop("TSTOP", columns["STOP"][-1] if nrows else 0.0))
    keywords.setdefault("FILENAME", Path(path).name)
    keywords.setdefault("PROC_VER", 310)
    computed = {
        "DATE": file_date(),
        "DATE-OBS": date_obs(tstart),
        "DATE-END": date_obs(tstop),
        "TSTART": tstart,
        "TSTOP": tstop,
    }
    values = {**computed, **keywords, "TSTART": tstart, "TSTOP": tstop}

    primary = fits.PrimaryHDU()
    append_cards(primary.header, [keyword_card(k, values) for k in PRIMARY_KEYS])
    hdu = build_table_hdu(specs, columns, nrows)
    append_cards(hdu.header, [keyword_card(k, {**values, "EXTNAME": "SC_DATA"}) for k in SC_DATA_KEYS])
    for i, spec in enumerate(specs, start=1):
        append_cards(hdu.header, spec.limit_cards(i))
    hdu.header.append(("EXTVER", 1, "auto assigned by template parser"), end=True)
    for line in history:
        hdu.header.add_history(line)
    with atomic_output(path, clobber=clobber) as tmp:
        fits.HDUList([primary, hdu]).writeto(tmp, checksum=True)
    return Path(path)
