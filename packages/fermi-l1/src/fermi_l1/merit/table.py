"""The merit table: one row per event with the reconstructed quantities and quality variables.

Written as Parquet (pyarrow), one file per chunk or run. Columns are :data:`MERIT_COLUMNS`:
event identification and timing from digi, then every column of
:data:`fermi_l1.recon.RECON_COLUMNS`. File metadata (``fermi.*`` keys, :func:`merit_metadata`)
records the format version, run id and producing package version. This module is the one
reader (:func:`read_merit`) and writer (:func:`write_merit`) of merit files; FT1 production
takes its columns through :func:`fermi_l1.ft1.merit_input.ft1_columns`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from fermi_core.atomic import atomic_output
from fermi_core.errors import BadInput
from fermi_l1._version import __version__
from fermi_l1.digi import DigiEvents, event_time
from fermi_l1.recon import RECON_COLUMNS

MERIT_FORMAT_VERSION = 1
#: seconds per tick of the run elapsed/livetime counters (50 ns)
COUNTER_TICK_S = 50e-9

#: identification/timing columns that precede the reconstruction columns
ID_COLUMNS: dict[str, str] = {
    "RUN_ID": "i8",  # run start MET (s) = run id
    "EVENT_ID": "i8",  # GEM sequence within the run (the merge key)
    "TIME": "f8",  # MET (s) of the trigger (time tones, telemetry format 4.3)
    "LIVETIME": "f8",  # s of live time since run start
    "ELAPSED": "f8",  # s since run start
    "GEM_CONDITIONS": "u1",  # GEM condition summary bits
    "FILTER_STATUS": "u4",  # on-board filter result bits
    "DIGI_STATUS": "i4",  # 0 good, else the digi decoder status code
}
MERIT_COLUMNS: dict[str, str] = {**ID_COLUMNS, **RECON_COLUMNS}


class MeritError(BadInput, ValueError):
    """A merit file or table that is unreadable, lacks columns or cannot become an FT1 (names it).

    Bad input: the pipeline does not retry it.
    """


def build_merit(digi: DigiEvents, recon: dict[str, np.ndarray], run_id: int) -> dict[str, np.ndarray]:
    """Return the merit columns (name -> array, in :data:`MERIT_COLUMNS` order) of one run/chunk.

    Parameters
    ----------
    digi
        Decoded events.
    recon
        Output of :func:`fermi_l1.recon.reconstruct` for the same events.
    run_id
        Run id (run start MET, integer seconds).
    """
    n = digi.n_events
    missing = [c for c in RECON_COLUMNS if c not in recon]
    if missing:
        raise ValueError(f"recon columns missing: {', '.join(missing)}")
    bad = [c for c in RECON_COLUMNS if len(recon[c]) != n]
    if bad:
        raise ValueError(f"recon columns {', '.join(bad)} do not have {n} rows")
    h = digi.header
    ident = {
        "RUN_ID": np.full(n, int(run_id)),
        "EVENT_ID": h["gem_sequence"].astype(np.int64),
        "TIME": event_time(h),
        "LIVETIME": h["livetime"].astype(np.float64) * COUNTER_TICK_S,
        "ELAPSED": h["elapsed"].astype(np.float64) * COUNTER_TICK_S,
        "GEM_CONDITIONS": h["gem_conditions"],
        "FILTER_STATUS": h["filter_status"],
        "DIGI_STATUS": digi.status,
    }
    cols = {**ident, **recon}
    return {name: np.ascontiguousarray(cols[name], dtype=dt) for name, dt in MERIT_COLUMNS.items()}


def merit_metadata(run_id: int | None = None) -> dict[bytes, bytes]:
    """Return the Parquet schema metadata that marks a file as a merit file of this format.

    Parameters
    ----------
    run_id
        Run id recorded as ``fermi.run_id``, if given.
    """
    meta = {
        b"fermi.format": b"fermi-l1-merit",
        b"fermi.format_version": str(MERIT_FORMAT_VERSION).encode(),
        b"fermi.creator": f"fermi-l1 {__version__}".encode(),
    }
    if run_id is not None:
        meta[b"fermi.run_id"] = str(int(run_id)).encode()
    return meta


def write_merit(
    path: str | os.PathLike[str], columns: dict[str, np.ndarray], run_id: int | None = None
) -> Path:
    """Write merit columns to a Parquet file atomically (temporary name, then rename).

    Returns the path written. Columns are written in :data:`MERIT_COLUMNS` order; any extra
    columns follow.
    """
    path = Path(path)
    missing = [c for c in MERIT_COLUMNS if c not in columns]
    if missing:
        raise ValueError(f"{path}: merit columns missing: {', '.join(missing)}")
    names = list(MERIT_COLUMNS) + [c for c in columns if c not in MERIT_COLUMNS]
    table = pa.table({name: pa.array(np.asarray(columns[name])) for name in names})
    meta = merit_metadata(run_id)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})
    with atomic_output(path) as tmp:
        # no dictionary encoding: merit columns are floats and counters with few repeats, and
        # building the dictionaries tripled the write time for a slightly larger file
        pq.write_table(table, tmp, compression="zstd", use_dictionary=False)
    return path


def read_merit(path: str | os.PathLike[str], columns: list[str] | None = None) -> dict[str, np.ndarray]:
    """Read a merit Parquet file into a dict of numpy arrays.

    Parameters
    ----------
    path
        File written by :func:`write_merit`.
    columns
        Subset of columns to read (default: all).

    Raises
    ------
    MeritError
        If the file is missing, not Parquet, not a merit file, of an unknown format version, or
        lacks a requested column.
    """
    path = Path(path)
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as exc:
        raise MeritError(f"{path}: cannot read as Parquet: {exc}") from None
    meta = schema.metadata or {}
    if meta.get(b"fermi.format") != b"fermi-l1-merit":
        raise MeritError(f"{path}: not a merit file (no fermi.format=fermi-l1-merit metadata)")
    version = meta.get(b"fermi.format_version", b"?").decode()
    if version != str(MERIT_FORMAT_VERSION):
        raise MeritError(
            f"{path}: merit format version {version} not supported (expected {MERIT_FORMAT_VERSION})"
        )
    wanted = list(schema.names) if columns is None else list(columns)
    absent = [c for c in wanted if c not in schema.names]
    if absent:
        raise MeritError(f"{path}: no column(s) {', '.join(absent)}")
    table = pq.read_table(path, columns=wanted)
    return {name: table.column(name).to_numpy() for name in wanted}
