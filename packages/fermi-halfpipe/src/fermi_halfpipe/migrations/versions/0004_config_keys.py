"""configuration keys of each run (hardware, software, MOOT), checked against mission planning

Revision ID: halfpipe_0004
Revises: halfpipe_0003
Create Date: 2026-12-09 10:00:00

Runs of an older database get the keys UNKNOWN (0xFFFFFFFF): their datagrams were merged before
the keys were recorded. The new run state ``mismatch`` is a value of the existing ``status``
column (no schema change).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "halfpipe_0004"
down_revision = "halfpipe_0003"
branch_labels = None
depends_on = None

KEYS = ("hw_key", "sw_key", "moot_key")
UNKNOWN = str(0xFFFFFFFF)


def upgrade() -> None:
    with op.batch_alter_table("halfpipe_run", schema=None) as batch_op:
        for name in KEYS:
            batch_op.add_column(sa.Column(name, sa.BigInteger(), nullable=False, server_default=UNKNOWN))
    # the models carry no server defaults: drop them so the schema equals the models
    with op.batch_alter_table("halfpipe_run", schema=None) as batch_op:
        for name in KEYS:
            batch_op.alter_column(name, server_default=None)


def downgrade() -> None:
    op.execute("UPDATE halfpipe_run SET status = 'open' WHERE status = 'mismatch'")
    with op.batch_alter_table("halfpipe_run", schema=None) as batch_op:
        for name in reversed(KEYS):
            batch_op.drop_column(name)
