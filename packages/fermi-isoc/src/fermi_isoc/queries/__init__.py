"""Read-only query layer over the other packages' tables.

The page, the alarms and the reports read the database only through these functions, which
return plain dataclasses; when another package changes its tables only this package changes.
"""

from fermi_isoc.queries.ingest import (
    ChunkInfo,
    DeliveryInfo,
    GapInfo,
    QuarantineInfo,
    chunks_of,
    deliveries,
    gaps_of,
    last_delivery_time,
    open_gaps,
    quarantine_of,
)
from fermi_isoc.queries.pipeline import (
    AttemptInfo,
    RunInfo,
    attempts_of,
    pipeline_available,
    products_of,
    runs,
    runs_of_delivery,
)

__all__ = [
    "AttemptInfo",
    "ChunkInfo",
    "DeliveryInfo",
    "GapInfo",
    "QuarantineInfo",
    "RunInfo",
    "attempts_of",
    "chunks_of",
    "deliveries",
    "gaps_of",
    "last_delivery_time",
    "open_gaps",
    "pipeline_available",
    "products_of",
    "quarantine_of",
    "runs",
    "runs_of_delivery",
]


def table_names(session) -> set[str]:
    """Names of the tables of the session's database."""
    from sqlalchemy import inspect

    return set(inspect(session.get_bind()).get_table_names())
