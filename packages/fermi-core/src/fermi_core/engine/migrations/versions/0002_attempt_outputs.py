"""pipeline_attempt.outputs: what a successful attempt returned (JSON list)

A later task reads what an earlier one made (e.g. the delivery id an ingest returned) from here,
instead of working it out again. Attempts recorded before have none (NULL).

Revision ID: engine_0002
Revises: engine_0001
Create Date: 2026-11-25 10:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "engine_0002"
down_revision = "engine_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pipeline_attempt", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outputs", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pipeline_attempt", schema=None) as batch_op:
        batch_op.drop_column("outputs")
