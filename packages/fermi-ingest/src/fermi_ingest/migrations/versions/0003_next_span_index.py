"""index for the gap finder's look forward: first span of an APID after a time

Revision ID: ingest_0003
Revises: ingest_0002
Create Date: 2026-11-23 17:05:00
"""

from __future__ import annotations

from alembic import op

revision = "ingest_0003"
down_revision = "ingest_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_ingest_apid_span_apid_met_start", "ingest_apid_span", ["apid", "met_start"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_ingest_apid_span_apid_met_start", table_name="ingest_apid_span")
