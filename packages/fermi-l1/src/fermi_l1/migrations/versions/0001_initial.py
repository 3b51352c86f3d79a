"""initial schema (as created before migrations existed)

The ``pipeline_*`` tables made here belong to the task engine of fermi-core since it moved there
(``fermi_core.engine.migrations``, which runs first): they are created only when absent and
dropped only while no engine schema is recorded.

Revision ID: l1_0001
Revises:
Create Date: 2026-11-23 16:39:43.517439
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "l1_0001"
down_revision = None
branch_labels = None
depends_on = None


def _exists(name: str) -> bool:
    return name in sa.inspect(op.get_bind()).get_table_names()


def upgrade() -> None:
    op.create_table(
        "l1_catalog_dataset",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("logical_path", sa.String(length=512), nullable=False),
        sa.Column("file_path", sa.String(length=1024), nullable=False),
        sa.Column("data_type", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("run", sa.BigInteger(), nullable=True),
        sa.Column("met_start", sa.Float(), nullable=False),
        sa.Column("met_stop", sa.Float(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("creator", sa.String(length=128), nullable=False),
        sa.Column("provenance", sa.Text(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_l1_catalog_dataset")),
        sa.UniqueConstraint("logical_path", "version", name=op.f("uq_l1_catalog_dataset_logical_path")),
    )
    with op.batch_alter_table("l1_catalog_dataset", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_l1_catalog_dataset_data_type"), ["data_type"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_l1_catalog_dataset_logical_path"), ["logical_path"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_l1_catalog_dataset_run"), ["run"], unique=False)

    if _exists("pipeline_task"):  # made by fermi-core's engine_0001
        return
    op.create_table(
        "pipeline_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_task")),
        sa.UniqueConstraint("name", name=op.f("uq_pipeline_task_name")),
    )
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


def downgrade() -> None:
    if not _exists("alembic_version_engine"):  # still fermi-l1's
        op.drop_table("pipeline_attempt")
        op.drop_table("pipeline_run")
        op.drop_table("pipeline_task")
    with op.batch_alter_table("l1_catalog_dataset", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_l1_catalog_dataset_run"))
        batch_op.drop_index(batch_op.f("ix_l1_catalog_dataset_logical_path"))
        batch_op.drop_index(batch_op.f("ix_l1_catalog_dataset_data_type"))

    op.drop_table("l1_catalog_dataset")
