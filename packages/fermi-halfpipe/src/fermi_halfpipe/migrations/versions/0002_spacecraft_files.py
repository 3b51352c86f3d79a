"""spacecraft sample files per delivery in their own table (published to L1 by fermi_halfpipe.published)

Revision ID: halfpipe_0002
Revises: halfpipe_0001
Create Date: 2026-11-24 10:00:00

Deliveries merged before this revision have their spacecraft file only in their JSON summary;
the table starts empty for them (the development data homes of 0.1.0.dev0 are re-made by
``make demo``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "halfpipe_0002"
down_revision = "halfpipe_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "halfpipe_spacecraft_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("n_samples", sa.BigInteger(), nullable=False),
        sa.Column("met_start", sa.Float(), nullable=False),
        sa.Column("met_stop", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_halfpipe_spacecraft_file")),
        sa.UniqueConstraint("delivery_id", name=op.f("uq_halfpipe_spacecraft_file_delivery_id")),
    )


def downgrade() -> None:
    op.drop_table("halfpipe_spacecraft_file")
