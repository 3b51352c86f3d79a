"""Reading merit tables (one row per event) as FT1 column arrays.

A merit table is a Parquet file (written by :mod:`fermi_l1.merit`) or an in-memory mapping of
column name -> array. Columns are matched to the FT1 names case-insensitively.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

#: Columns an FT1 cannot be written without.
REQUIRED = (
    "ENERGY", "RA", "DEC", "L", "B", "THETA", "PHI", "ZENITH_ANGLE", "EARTH_AZIMUTH_ANGLE", "TIME",
    "EVENT_ID", "RUN_ID", "EVENT_CLASS", "EVENT_TYPE", "CONVERSION_TYPE", "LIVETIME",
)  # fmt: skip
#: Optional FT1 columns taken from the merit table when present.
OPTIONAL = ("RECON_VERSION", "CALIB_VERSION")


class MeritError(ValueError):
    """A merit table that cannot become an FT1 (bad input: not retried by the pipeline)."""


def read_merit(source: str | os.PathLike[str] | Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Return the FT1 columns of a merit table, sorted by ``TIME``.

    Raises
    ------
    MeritError
        Naming the file (or ``merit``) and the missing columns, or a row count mismatch.
    """
    if isinstance(source, Mapping):
        where = "merit table"
        raw = {str(k).upper(): np.asarray(v) for k, v in source.items()}
    else:
        import pyarrow.parquet as pq

        path = Path(source)
        where = str(path)
        if not path.is_file():
            raise MeritError(f"{where}: no such merit file")
        try:
            table = pq.read_table(path)
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise MeritError(f"{where}: not a readable Parquet merit table ({exc})") from None
        raw = {}
        for name in table.column_names:
            column = table.column(name)
            values = column.to_numpy(zero_copy_only=False)
            if values.dtype == object:  # list columns (CALIB_VERSION)
                values = np.stack(values) if len(values) else np.zeros((0, 3), dtype=np.int16)
            raw[name.upper()] = values
    missing = [c for c in REQUIRED if c not in raw]
    if missing:
        raise MeritError(f"{where}: missing column(s) {', '.join(missing)} needed for FT1")
    n = raw["TIME"].shape[0]
    for name in (*REQUIRED, *OPTIONAL):
        if name in raw and raw[name].shape[0] != n:
            raise MeritError(f"{where}: column {name} has {raw[name].shape[0]} rows, TIME has {n}")
    order = np.argsort(raw["TIME"], kind="stable")
    return {name: raw[name][order] for name in (*REQUIRED, *OPTIONAL) if name in raw}
