"""initial schema: isoc_rerun_request, isoc_metric_sample, isoc_archive_copy

Revision ID: isoc_0001
Revises:
Create Date: 2026-11-23 16:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "isoc_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "isoc_rerun_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_key", sa.String(length=128), nullable=False),
        sa.Column("step", sa.String(length=128), nullable=True),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_isoc_rerun_request")),
    )
    with op.batch_alter_table("isoc_rerun_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_isoc_rerun_request_run_key"), ["run_key"], unique=False)
    op.create_table(
        "isoc_metric_sample",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("met", sa.Float(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=1024), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_isoc_metric_sample")),
    )
    with op.batch_alter_table("isoc_metric_sample", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_isoc_metric_sample_quantity"), ["quantity"], unique=False)
        batch_op.create_index(batch_op.f("ix_isoc_metric_sample_met"), ["met"], unique=False)
    op.create_table(
        "isoc_archive_copy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("local_path", sa.String(length=1024), nullable=False),
        sa.Column("archive_path", sa.String(length=1024), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("local_deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_isoc_archive_copy")),
    )
    with op.batch_alter_table("isoc_archive_copy", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_isoc_archive_copy_delivery_id"), ["delivery_id"], unique=False)


def downgrade() -> None:
    op.drop_table("isoc_archive_copy")
    op.drop_table("isoc_metric_sample")
    op.drop_table("isoc_rerun_request")
