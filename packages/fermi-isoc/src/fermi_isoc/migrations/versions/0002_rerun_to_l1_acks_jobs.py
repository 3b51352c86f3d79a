"""re-run requests move to fermi-l1; alarm acknowledgements (isoc_alarm_ack) and job records (isoc_job)

The driver of fermi-l1 acts on ``pipeline_rerun_request``; isoc's old ``isoc_rerun_request`` was
never acted on. Its rows are copied there as ``superseded`` (kept for the record, not acted on:
request again) and the table is dropped.

Revision ID: isoc_0002
Revises: isoc_0001
Create Date: 2026-11-24 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "isoc_0002"
down_revision = "isoc_0001"
branch_labels = None
depends_on = None

_NOTE = (
    "recorded by fermi-isoc before the pipeline driver consumed re-run requests; not acted on: request again"
)


def upgrade() -> None:
    op.create_table(
        "isoc_alarm_ack",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alarm", sa.String(length=128), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("acknowledged_by", sa.String(length=128), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lapsed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_isoc_alarm_ack")),
    )
    with op.batch_alter_table("isoc_alarm_ack", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_isoc_alarm_ack_alarm"), ["alarm"], unique=False)
    op.create_table(
        "isoc_job",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("period_s", sa.Float(), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_isoc_job")),
    )
    bind = op.get_bind()
    if "pipeline_rerun_request" in sa.inspect(bind).get_table_names():
        bind.execute(
            sa.text(
                "INSERT INTO pipeline_rerun_request (run, step, requested_by, reason, origin, state, "
                "requested_at, attempt_ids, outcome) SELECT run_key, step, requested_by, reason, origin, "
                "'superseded', requested_at, '[]', :note FROM isoc_rerun_request ORDER BY id"
            ),
            {"note": _NOTE},
        )
    op.drop_table("isoc_rerun_request")


def downgrade() -> None:
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
    op.drop_table("isoc_job")
    op.drop_table("isoc_alarm_ack")
