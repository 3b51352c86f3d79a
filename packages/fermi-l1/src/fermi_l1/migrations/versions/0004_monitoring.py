"""monitoring: per-run-version data-quality verdicts, the reference run, operators' sign-offs

Revision ID: l1_0004
Revises: l1_0003
Create Date: 2026-12-09 10:00:00

Three new tables, no change to existing rows: ``l1_monitor_verdict`` (one verdict per run
version, with the failed checks as JSON), ``l1_monitor_reference`` (the reference runs in the
order they were set; the newest is in force) and ``l1_monitor_signoff`` (every sign-off, newest
in force).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "l1_0004"
down_revision = "l1_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "l1_monitor_verdict",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=8), nullable=False),
        sa.Column("checks", sa.Text(), nullable=False),
        sa.Column("n_checks", sa.Integer(), nullable=False),
        sa.Column("reference_run", sa.BigInteger(), nullable=True),
        sa.Column("reference_version", sa.Integer(), nullable=True),
        sa.Column("config_digest", sa.String(length=64), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_l1_monitor_verdict")),
        sa.UniqueConstraint("run", "version", name=op.f("uq_l1_monitor_verdict_run")),
    )
    with op.batch_alter_table("l1_monitor_verdict", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_l1_monitor_verdict_run"), ["run"], unique=False)
        batch_op.create_index(batch_op.f("ix_l1_monitor_verdict_verdict"), ["verdict"], unique=False)
    op.create_table(
        "l1_monitor_reference",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("set_by", sa.String(length=128), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_l1_monitor_reference")),
    )
    op.create_table(
        "l1_monitor_signoff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=8), nullable=False),
        sa.Column("signed_by", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_l1_monitor_signoff")),
    )
    with op.batch_alter_table("l1_monitor_signoff", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_l1_monitor_signoff_run"), ["run"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("l1_monitor_signoff", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_l1_monitor_signoff_run"))
    op.drop_table("l1_monitor_signoff")
    op.drop_table("l1_monitor_reference")
    with op.batch_alter_table("l1_monitor_verdict", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_l1_monitor_verdict_verdict"))
        batch_op.drop_index(batch_op.f("ix_l1_monitor_verdict_run"))
    op.drop_table("l1_monitor_verdict")
