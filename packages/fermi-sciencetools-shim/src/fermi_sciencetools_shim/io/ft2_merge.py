"""FT2 1 s -> 30 s merging with the ft2Util ``mergeFT2`` rules (L1 ``makeFT2`` step).

Consecutive rows are merged into groups of at most ``dt`` seconds (see
:func:`._kernels.merge_groups` for the exact cut rules); each output row copies every
column from the group's first row (pointing at START), with ``STOP`` = the last row's
STOP and ``LIVETIME`` = the sum over the group.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from fermi_sciencetools_shim.errors import InputFileError, ParameterError
from fermi_sciencetools_shim.io._kernels import merge_groups
from fermi_sciencetools_shim.io.ft2 import ft2_layout, read_ft2, write_ft2

_NEEDED = ("START", "STOP", "LIVETIME", "LAT_CONFIG", "LAT_MODE", "DATA_QUAL")


def merge_ft2(data: Mapping[str, np.ndarray], dt: float = 30.0) -> dict[str, np.ndarray]:
    """Return the merged FT2 columns of ``data`` (upper-case column name -> array).

    Raises
    ------
    ParameterError
        For ``dt <= 0`` or a missing column needed by the merge rules.
    """
    if not dt > 0:
        raise ParameterError("dt", f"time step must be positive, got {dt!r}")
    missing = [c for c in _NEEDED if c not in data]
    if missing:
        raise ParameterError("data", f"FT2 column(s) {', '.join(missing)} needed to merge are missing")
    first, last, livetime = merge_groups(*(np.asarray(data[c]) for c in _NEEDED), dt)
    out = {name: np.asarray(array)[first] for name, array in data.items()}
    out["STOP"] = np.asarray(data["STOP"])[last]
    out["LIVETIME"] = livetime
    return out


def merge_ft2_file(
    infile: str | os.PathLike[str],
    outfile: str | os.PathLike[str],
    *,
    dt: float = 30.0,
    version: int = 1,
    proc_ver: int = 1,
    creator: str = "fermi-sciencetools-shim mergeFT2",
    clobber: bool = False,
) -> Path:
    """Merge a 1 s FT2 file into ``outfile`` (same column layout; written atomically).

    ``TSTART``/``TSTOP`` are the first START and last STOP; ``VERSION``, ``PROC_VER``,
    ``CREATOR`` and ``FILENAME`` are set as mergeFT2 does. Raises :class:`InputFileError`
    for an empty input.
    """
    data = read_ft2(infile)
    if data["START"].size == 0:
        raise InputFileError(infile, "SC_DATA has no rows to merge")
    merged = merge_ft2(data, dt)
    keywords = {
        "CREATOR": creator,
        "VERSION": int(version),
        "PROC_VER": int(proc_ver),
        "TSTART": float(merged["START"][0]),
        "TSTOP": float(merged["STOP"][-1]),
    }
    return write_ft2(outfile, merged, keywords, layout=ft2_layout(data), clobber=clobber)
