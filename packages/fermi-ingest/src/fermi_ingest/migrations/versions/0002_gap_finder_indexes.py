"""indexes for the gap finder: open gaps of an APID, last span of an APID before a time

Revision ID: ingest_0002
Revises: ingest_0001
Create Date: 2026-11-23 17:10:00
"""

from __future__ import annotations

from alembic import op

revision = "ingest_0002"
down_revision = "ingest_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_ingest_gap_apid_status", "ingest_gap", ["apid", "status", "kind"], unique=False)
    op.create_index(
        "ix_ingest_apid_span_apid_met_stop", "ingest_apid_span", ["apid", "met_stop"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_ingest_apid_span_apid_met_stop", table_name="ingest_apid_span")
    op.drop_index("ix_ingest_gap_apid_status", table_name="ingest_gap")
