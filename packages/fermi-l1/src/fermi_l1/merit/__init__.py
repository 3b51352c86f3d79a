"""The merit table (one row per reconstructed event), stored as Parquet."""

from fermi_l1.merit.table import (
    ID_COLUMNS,
    MERIT_COLUMNS,
    MERIT_FORMAT_VERSION,
    MeritError,
    build_merit,
    merit_metadata,
    read_merit,
    write_merit,
)

__all__ = [
    "ID_COLUMNS",
    "MERIT_COLUMNS",
    "MERIT_FORMAT_VERSION",
    "MeritError",
    "build_merit",
    "merit_metadata",
    "read_merit",
    "write_merit",
]
