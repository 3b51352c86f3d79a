"""re-run requests: pipeline_rerun_request, pipeline_rerun_target

These tables belong to the task engine of fermi-core since it moved there: created only when
absent, dropped only while no engine schema is recorded.

Revision ID: l1_0002
Revises: l1_0001
Create Date: 2026-11-24 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "l1_0002"
down_revision = "l1_0001"
branch_labels = None
depends_on = None


def _exists(name: str) -> bool:
    return name in sa.inspect(op.get_bind()).get_table_names()


def upgrade() -> None:
    if _exists("pipeline_rerun_request"):  # made by fermi-core's engine_0001
        return
    op.create_table(
        "pipeline_rerun_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run", sa.String(length=160), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=True),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempt_ids", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_rerun_request")),
    )
    with op.batch_alter_table("pipeline_rerun_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pipeline_rerun_request_run"), ["run"], unique=False)
        batch_op.create_index(batch_op.f("ix_pipeline_rerun_request_state"), ["state"], unique=False)
    op.create_table(
        "pipeline_rerun_target",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_pk", sa.Integer(), nullable=False),
        sa.Column("run_pk", sa.Integer(), nullable=False),
        sa.Column("attempt_base", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_pk"],
            ["pipeline_rerun_request.id"],
            name=op.f("fk_pipeline_rerun_target_request_pk_pipeline_rerun_request"),
        ),
        sa.ForeignKeyConstraint(
            ["run_pk"], ["pipeline_run.id"], name=op.f("fk_pipeline_rerun_target_run_pk_pipeline_run")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_rerun_target")),
        sa.UniqueConstraint("request_pk", "run_pk", name=op.f("uq_pipeline_rerun_target_request_pk")),
    )
    with op.batch_alter_table("pipeline_rerun_target", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pipeline_rerun_target_request_pk"), ["request_pk"], unique=False)
        batch_op.create_index(batch_op.f("ix_pipeline_rerun_target_run_pk"), ["run_pk"], unique=False)


def downgrade() -> None:
    if not _exists("alembic_version_engine"):  # still fermi-l1's
        op.drop_table("pipeline_rerun_target")
        op.drop_table("pipeline_rerun_request")
