"""Read-only query layer over the other packages' tables.

The page, the alarms and the reports read the database only through these functions, which
return plain dataclasses; when another package changes its tables only this package changes.
Counts are SQL aggregates over every row (:func:`state_counts`, :func:`count_runs`, ...), never
counted from a fetched list; listings come a page at a time (:class:`Page`: ``limit``,
``offset``, ``total``). Table checks go through the session's own connection
(:mod:`fermi_isoc.queries.tables`), so a request never holds two pooled connections.
"""

from fermi_isoc.queries.halfpipe import halfpipe_runs, halfpipe_runs_page, halfpipe_state_counts
from fermi_isoc.queries.ingest import (
    ChunkInfo,
    DeliveryInfo,
    GapInfo,
    QuarantineInfo,
    chunks_of,
    count_deliveries,
    count_open_gaps,
    deliveries,
    deliveries_page,
    gaps_of,
    last_delivery_time,
    open_gaps,
    quarantine_of,
)
from fermi_isoc.queries.pages import Page
from fermi_isoc.queries.pipeline import (
    AttemptInfo,
    FailedRun,
    RunInfo,
    attempts_of,
    count_runs,
    failed_runs,
    pipeline_available,
    products_of,
    runs,
    runs_of_delivery,
    runs_page,
    state_counts,
)
from fermi_isoc.queries.tables import has_tables, table_names

__all__ = [
    "AttemptInfo",
    "ChunkInfo",
    "DeliveryInfo",
    "FailedRun",
    "GapInfo",
    "Page",
    "QuarantineInfo",
    "RunInfo",
    "attempts_of",
    "chunks_of",
    "count_deliveries",
    "count_open_gaps",
    "count_runs",
    "deliveries",
    "deliveries_page",
    "failed_runs",
    "gaps_of",
    "halfpipe_runs",
    "halfpipe_runs_page",
    "halfpipe_state_counts",
    "has_tables",
    "last_delivery_time",
    "open_gaps",
    "pipeline_available",
    "products_of",
    "quarantine_of",
    "runs",
    "runs_of_delivery",
    "runs_page",
    "state_counts",
    "table_names",
]
