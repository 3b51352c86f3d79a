"""completion policy: run revision, lost events, last data and deadline; merged file revisions

Revision ID: halfpipe_0003
Revises: halfpipe_0002
Create Date: 2026-12-02 10:00:00

Runs of an older database: retired runs get revision 1 and their counted loss 0 (recounted at
their next revision); open runs count as having last received data with the newest delivery
merged so far (their deadline starts now, by deliveries; no wall-time deadline until their
next data). Every merged file is current and belongs to revision 1.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "halfpipe_0003"
down_revision = "halfpipe_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("halfpipe_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("lost_events", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("last_data_utc", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_data_delivery", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("deadline_utc", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("deadline_deliveries", sa.Integer(), nullable=False, server_default="3")
        )
        batch_op.create_index(batch_op.f("ix_halfpipe_run_status"), ["status"], unique=False)
    with op.batch_alter_table("halfpipe_file", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("replaced_in", sa.Integer(), nullable=False, server_default="0"))
    op.execute("UPDATE halfpipe_run SET revision = 1 WHERE status IN ('complete', 'incomplete')")
    op.execute(
        "UPDATE halfpipe_run SET last_data_delivery = "
        "(SELECT COALESCE(MAX(id), 0) FROM halfpipe_delivery) WHERE status = 'open'"
    )
    # the models carry no server defaults: drop them so the schema equals the models
    with op.batch_alter_table("halfpipe_run", schema=None) as batch_op:
        for name in ("revision", "lost_events", "last_data_delivery", "deadline_deliveries"):
            batch_op.alter_column(name, server_default=None)
    with op.batch_alter_table("halfpipe_file", schema=None) as batch_op:
        for name in ("revision", "replaced_in"):
            batch_op.alter_column(name, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("halfpipe_file", schema=None) as batch_op:
        batch_op.drop_column("replaced_in")
        batch_op.drop_column("revision")
    with op.batch_alter_table("halfpipe_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_halfpipe_run_status"))
        for name in (
            "deadline_deliveries",
            "deadline_utc",
            "last_data_delivery",
            "last_data_utc",
            "lost_events",
            "revision",
        ):
            batch_op.drop_column(name)
