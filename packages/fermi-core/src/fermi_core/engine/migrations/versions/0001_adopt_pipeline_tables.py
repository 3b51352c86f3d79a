"""the task engine's tables as fermi-l1 left them (l1_0002), now owned by fermi-core

In a database made by an older fermi-l1 these tables already exist: the runner stamps this
revision without running it. In a fresh database it creates them; a table that exists is kept
as it is.

Revision ID: engine_0001
Revises:
Create Date: 2026-11-25 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "engine_0001"
down_revision = None
branch_labels = None
depends_on = None


def _exists(name: str) -> bool:
    return name in sa.inspect(op.get_bind()).get_table_names()


def upgrade() -> None:
    if not _exists("pipeline_task"):
        op.create_table(
            "pipeline_task",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("name", sa.String(length=64), nullable=False),
            sa.Column("max_attempts", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_task")),
            sa.UniqueConstraint("name", name=op.f("uq_pipeline_task_name")),
        )
    if not _exists("pipeline_run"):
        op.create_table(
            "pipeline_run",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("task_pk", sa.Integer(), nullable=False),
            sa.Column("key", sa.String(length=128), nullable=False),
            sa.Column("state", sa.String(length=16), nullable=False),
            sa.Column("params", sa.Text(), nullable=False),
            sa.Column("processing_date", sa.String(length=19), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
            sa.ForeignKeyConstraint(
                ["task_pk"], ["pipeline_task.id"], name=op.f("fk_pipeline_run_task_pk_pipeline_task")
            ),
            sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_run")),
            sa.UniqueConstraint("task_pk", "key", name=op.f("uq_pipeline_run_task_pk")),
        )
    if not _exists("pipeline_attempt"):
        op.create_table(
            "pipeline_attempt",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("run_pk", sa.Integer(), nullable=False),
            sa.Column("number", sa.Integer(), nullable=False),
            sa.Column("state", sa.String(length=16), nullable=False),
            sa.Column("executor", sa.String(length=32), nullable=False),
            sa.Column("host", sa.String(length=255), nullable=True),
            sa.Column("pid", sa.Integer(), nullable=True),
            sa.Column("driver_host", sa.String(length=255), nullable=False),
            sa.Column("driver_pid", sa.Integer(), nullable=False),
            sa.Column("batch_id", sa.String(length=64), nullable=True),
            sa.Column("exit_code", sa.Integer(), nullable=True),
            sa.Column("log_path", sa.String(length=1024), nullable=True),
            sa.Column("error", sa.Text(), nullable=True),
            sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("queue_wait", sa.Float(), nullable=True),
            sa.ForeignKeyConstraint(
                ["run_pk"], ["pipeline_run.id"], name=op.f("fk_pipeline_attempt_run_pk_pipeline_run")
            ),
            sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_attempt")),
            sa.UniqueConstraint("run_pk", "number", name=op.f("uq_pipeline_attempt_run_pk")),
        )
    if not _exists("pipeline_rerun_request"):
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
    if not _exists("pipeline_rerun_target"):
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
            batch_op.create_index(
                batch_op.f("ix_pipeline_rerun_target_request_pk"), ["request_pk"], unique=False
            )
            batch_op.create_index(batch_op.f("ix_pipeline_rerun_target_run_pk"), ["run_pk"], unique=False)


def downgrade() -> None:
    op.drop_table("pipeline_rerun_target")
    op.drop_table("pipeline_rerun_request")
    op.drop_table("pipeline_attempt")
    op.drop_table("pipeline_run")
    op.drop_table("pipeline_task")
