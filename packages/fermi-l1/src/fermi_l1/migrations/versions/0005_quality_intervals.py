"""quality intervals: bad time intervals (operator or automatic) that set FT2 DATA_QUAL

Revision ID: l1_0005
Revises: l1_0004
Create Date: 2026-12-09 11:00:00

One new table, no change to existing rows: ``l1_quality_interval`` (every bad time interval ever
recorded; a removed one keeps its row with ``active`` false and who removed it and why).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "l1_0005"
down_revision = "l1_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "l1_quality_interval",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("start_met", sa.Float(), nullable=False),
        sa.Column("stop_met", sa.Float(), nullable=False),
        sa.Column("data_qual", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("who", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("removed_by", sa.String(length=128), nullable=True),
        sa.Column("removed_reason", sa.Text(), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_l1_quality_interval")),
    )
    with op.batch_alter_table("l1_quality_interval", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_l1_quality_interval_active"), ["active"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("l1_quality_interval", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_l1_quality_interval_active"))
    op.drop_table("l1_quality_interval")
