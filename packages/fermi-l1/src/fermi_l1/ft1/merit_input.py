"""Merit tables (one row per event) as FT1 column arrays.

A merit table is a merit file (read by :func:`fermi_l1.merit.read_merit`, the one merit reader)
or an in-memory mapping of column name -> array. Columns are matched to the FT1 names
case-insensitively.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from fermi_l1.merit import MeritError, read_merit

#: Columns an FT1 cannot be written without.
REQUIRED = (
    "ENERGY", "RA", "DEC", "L", "B", "THETA", "PHI", "ZENITH_ANGLE", "EARTH_AZIMUTH_ANGLE", "TIME",
    "EVENT_ID", "RUN_ID", "EVENT_CLASS", "EVENT_TYPE", "CONVERSION_TYPE", "LIVETIME",
)  # fmt: skip
#: Optional FT1 columns taken from the merit table when present.
OPTIONAL = ("RECON_VERSION", "CALIB_VERSION")


def _ft1_names(path: str | os.PathLike[str]) -> list[str] | None:
    """The columns of the merit file ``path`` that FT1 takes (None: let the reader refuse the file)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
    except (OSError, pa.ArrowException):
        return None
    wanted = {*REQUIRED, *OPTIONAL}
    return [n for n in names if n.upper() in wanted]


def ft1_columns(source: str | os.PathLike[str] | Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Return the FT1 columns of a merit table, sorted by ``TIME``.

    Parameters
    ----------
    source
        A merit file (see :func:`fermi_l1.merit.write_merit`) or a mapping of column arrays.

    Raises
    ------
    MeritError
        Naming the file (or ``merit table``): unreadable, not a merit file, missing columns, or
        a row count mismatch.
    """
    if isinstance(source, Mapping):
        where = "merit table"
        columns = source
    else:
        where = str(Path(source))
        columns = read_merit(source, columns=_ft1_names(source))
    raw = {}
    for name, column in columns.items():
        values = np.asarray(column)
        if values.dtype == object:  # list columns (CALIB_VERSION)
            values = np.stack(values) if len(values) else np.zeros((0, 3), dtype=np.int16)
        raw[str(name).upper()] = values
    missing = [c for c in REQUIRED if c not in raw]
    if missing:
        raise MeritError(f"{where}: missing column(s) {', '.join(missing)} needed for FT1")
    n = raw["TIME"].shape[0]
    for name in (*REQUIRED, *OPTIONAL):
        if name in raw and raw[name].shape[0] != n:
            raise MeritError(f"{where}: column {name} has {raw[name].shape[0]} rows, TIME has {n}")
    order = np.argsort(raw["TIME"], kind="stable")
    return {name: raw[name][order] for name in (*REQUIRED, *OPTIONAL) if name in raw}
