"""Reading the FT1/FT2 inputs of gtbin and gtltcube (astropy FITS).

Kept small and private: the shared FT1/FT2 readers live in ``fermi_sciencetools_shim.io``;
this module only gathers the columns and headers these two tools need, with errors that
name the file and the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits

from fermi_sciencetools_shim.errors import InputFileError, ParameterError
from fermi_sciencetools_shim.gti import Gti, union


def expand_file_list(value: str, param: str) -> list[Path]:
    """Return the files named by a parameter: one file name, or ``@list`` (one name a line).

    Raises
    ------
    ParameterError
        For an empty value.
    InputFileError
        If the list file or a listed file does not exist.
    """
    text = (value or "").strip()
    if not text or text.upper() == "NONE":
        raise ParameterError(param, "no file given")
    if text.startswith("@"):
        list_path = Path(text[1:])
        if not list_path.is_file():
            raise InputFileError(list_path, f"file list given in {param!r} not found")
        names = [line.strip() for line in list_path.read_text().splitlines()]
        paths = [Path(n) for n in names if n and not n.startswith("#")]
        if not paths:
            raise InputFileError(list_path, f"file list given in {param!r} is empty")
    else:
        paths = [Path(text)]
    for p in paths:
        if not p.is_file():
            raise InputFileError(p, f"{param} file not found")
    return paths


def _open(path: Path) -> fits.HDUList:
    try:
        return fits.open(path, memmap=False)
    except (OSError, ValueError) as exc:
        raise InputFileError(path, f"cannot read as FITS ({exc})") from None


def _column(path: Path, table: str, data: fits.FITS_rec, name: str) -> np.ndarray:
    names = [n.upper() for n in data.columns.names]
    if name.upper() not in names:
        raise InputFileError(path, f"{table} extension has no {name} column")
    return np.asarray(data[name])


@dataclass
class EventInput:
    """Columns of the event file(s), the union of their GTIs and the first EVENTS header."""

    columns: dict[str, np.ndarray]
    gti: Gti
    header: fits.Header
    paths: list[Path]


def read_event_input(paths: Sequence[Path], columns: Sequence[str], evtable: str = "EVENTS") -> EventInput:
    """Read ``columns`` (float64) of every event file, concatenated, and the union of GTIs.

    Raises
    ------
    InputFileError
        If a file lacks the event table, a column or the ``GTI`` extension.
    """
    parts: dict[str, list[np.ndarray]] = {c: [] for c in columns}
    gtis: list[Gti] = []
    header: fits.Header | None = None
    for path in paths:
        with _open(path) as hdul:
            if evtable not in hdul:
                raise InputFileError(path, f"no {evtable} extension")
            hdu = hdul[evtable]
            if header is None:
                header = hdu.header.copy()
            data = hdu.data
            n = 0 if data is None else len(data)
            for c in columns:
                parts[c].append(
                    np.empty(0) if n == 0 else _column(path, evtable, data, c).astype(np.float64).ravel()
                )
            if "GTI" not in hdul:
                raise InputFileError(path, "no GTI extension")
            g = hdul["GTI"].data
            start = _column(path, "GTI", g, "START").astype(np.float64)
            stop = _column(path, "GTI", g, "STOP").astype(np.float64)
            bad = np.flatnonzero(stop < start)
            if bad.size:
                raise InputFileError(path, f"GTI row {bad[0]} has STOP < START")
            gtis.append(Gti.from_intervals(start, stop))
    assert header is not None
    return EventInput({c: np.concatenate(v) for c, v in parts.items()}, union(*gtis), header, list(paths))


def read_ft2(
    paths: Sequence[Path], columns: Sequence[str], sctable: str = "SC_DATA"
) -> dict[str, np.ndarray]:
    """Read float64 ``columns`` of the spacecraft file(s), concatenated in file order.

    Raises
    ------
    InputFileError
        If a file lacks the table or a column.
    """
    parts: dict[str, list[np.ndarray]] = {c: [] for c in columns}
    for path in paths:
        with _open(path) as hdul:
            if sctable not in hdul:
                raise InputFileError(path, f"no {sctable} extension (is it an FT2 file?)")
            data = hdul[sctable].data
            for c in columns:
                parts[c].append(
                    np.empty(0) if data is None else _column(path, sctable, data, c).astype(np.float64)
                )
    return {c: np.concatenate(v) for c, v in parts.items()}


def livetime_exposure(gti: Gti, start: np.ndarray, stop: np.ndarray, livetime: np.ndarray) -> float:
    """Return Σ LIVETIME × (GTI overlap / row duration) over spacecraft rows (gtbin ``EXPOSURE``)."""
    return float(np.sum(livetime * gti.overlap_fraction(start, stop)))
