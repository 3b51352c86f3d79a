"""Indexes added by migration ``ingest_0002`` for the queries of the gap finder.

The gap finder asks, per APID, for the open sequence gaps and for the last span that ends before a
new delivery's first packet (``ingest._stream_status``): with years of deliveries these are the
queries that grow. The indexes are declared on the tables here so that a database made from the
models and one upgraded by the migrations are the same; they belong in ``models.py``'s
``__table_args__`` (same names), after which this module adds nothing.
"""

from __future__ import annotations

from sqlalchemy import Index, Table

from fermi_ingest.models import ApidSpan, Gap

#: (index name, table, columns): the schema of revision ingest_0002
INDEXES = (
    ("ix_ingest_gap_apid_status", Gap.__table__, ("apid", "status", "kind")),
    ("ix_ingest_apid_span_apid_met_stop", ApidSpan.__table__, ("apid", "met_stop")),
)


def _declare(name: str, table: Table, columns: tuple[str, ...]) -> None:
    if any(ix.name == name for ix in table.indexes):
        return
    Index(name, *(table.c[c] for c in columns))


for _name, _table, _columns in INDEXES:
    _declare(_name, _table, _columns)
