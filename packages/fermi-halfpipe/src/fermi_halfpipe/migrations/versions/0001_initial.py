"""initial schema (as created before migrations existed)

Revision ID: halfpipe_0001
Revises:
Create Date: 2026-11-23 16:39:43.427865
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "halfpipe_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "halfpipe_datagram",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("apid", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("delivery_id", sa.String(length=64), nullable=False),
        sa.Column("store_path", sa.String(length=1024), nullable=False),
        sa.Column("store_offset", sa.BigInteger(), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("met", sa.Float(), nullable=False),
        sa.Column("crate", sa.Integer(), nullable=False),
        sa.Column("open_action", sa.Integer(), nullable=False),
        sa.Column("close_action", sa.Integer(), nullable=False),
        sa.Column("n_events", sa.Integer(), nullable=False),
        sa.Column("n_decoded", sa.Integer(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("first_gem", sa.BigInteger(), nullable=False),
        sa.Column("last_gem", sa.BigInteger(), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_halfpipe_datagram")),
        sa.UniqueConstraint("run_id", "apid", "seq", name=op.f("uq_halfpipe_datagram_run_id")),
    )
    with op.batch_alter_table("halfpipe_datagram", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_halfpipe_datagram_run_id"), ["run_id"], unique=False)

    op.create_table(
        "halfpipe_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("summary_path", sa.String(length=1024), nullable=False),
        sa.Column("summary_sha256", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_halfpipe_delivery")),
        sa.UniqueConstraint("delivery_id", name=op.f("uq_halfpipe_delivery_delivery_id")),
    )
    op.create_table(
        "halfpipe_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("delivery_id", sa.String(length=64), nullable=False),
        sa.Column("first_gem", sa.BigInteger(), nullable=False),
        sa.Column("last_gem", sa.BigInteger(), nullable=False),
        sa.Column("n_events", sa.BigInteger(), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_halfpipe_file")),
        sa.UniqueConstraint("path", name=op.f("uq_halfpipe_file_path")),
    )
    with op.batch_alter_table("halfpipe_file", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_halfpipe_file_run_id"), ["run_id"], unique=False)

    op.create_table(
        "halfpipe_fragment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.String(length=64), nullable=False),
        sa.Column("apid", sa.Integer(), nullable=False),
        sa.Column("first_count", sa.Integer(), nullable=False),
        sa.Column("last_count", sa.Integer(), nullable=False),
        sa.Column("first_flag", sa.Integer(), nullable=False),
        sa.Column("last_flag", sa.Integer(), nullable=False),
        sa.Column("sec", sa.BigInteger(), nullable=False),
        sa.Column("usec", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=1024), nullable=False),
        sa.Column("source_offset", sa.BigInteger(), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("joined_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_halfpipe_fragment")),
    )
    with op.batch_alter_table("halfpipe_fragment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_halfpipe_fragment_delivery_id"), ["delivery_id"], unique=False)

    op.create_table(
        "halfpipe_held",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("apid", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("store_path", sa.String(length=1024), nullable=False),
        sa.Column("seq_first", sa.BigInteger(), nullable=False),
        sa.Column("seq_last", sa.BigInteger(), nullable=False),
        sa.Column("first_gem", sa.BigInteger(), nullable=False),
        sa.Column("last_gem", sa.BigInteger(), nullable=False),
        sa.Column("n_events", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_halfpipe_held")),
    )
    with op.batch_alter_table("halfpipe_held", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_halfpipe_held_run_id"), ["run_id"], unique=False)

    op.create_table(
        "halfpipe_lock",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_halfpipe_lock")),
    )
    op.create_table(
        "halfpipe_problem",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=True),
        sa.Column("apid", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=1024), nullable=False),
        sa.Column("source_offset", sa.BigInteger(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("events_lost", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_halfpipe_problem")),
        sa.UniqueConstraint(
            "delivery_id", "source", "source_offset", "reason", name=op.f("uq_halfpipe_problem_delivery_id")
        ),
    )
    with op.batch_alter_table("halfpipe_problem", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_halfpipe_problem_delivery_id"), ["delivery_id"], unique=False)

    op.create_table(
        "halfpipe_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("ground_id", sa.BigInteger(), nullable=False),
        sa.Column("n_delivered", sa.BigInteger(), nullable=False),
        sa.Column("n_held", sa.BigInteger(), nullable=False),
        sa.Column("n_late", sa.BigInteger(), nullable=False),
        sa.Column("n_duplicates", sa.BigInteger(), nullable=False),
        sa.Column("lock_owner", sa.String(length=128), nullable=False),
        sa.Column("retired_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_halfpipe_run")),
        sa.UniqueConstraint("run_id", name=op.f("uq_halfpipe_run_run_id")),
    )
    op.create_table(
        "halfpipe_sighting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("apid", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.String(length=64), nullable=False),
        sa.Column("seq_first", sa.BigInteger(), nullable=False),
        sa.Column("seq_last", sa.BigInteger(), nullable=False),
        sa.Column("n_duplicates", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_halfpipe_sighting")),
    )
    with op.batch_alter_table("halfpipe_sighting", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_halfpipe_sighting_run_id"), ["run_id"], unique=False)

    op.create_table(
        "halfpipe_span",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("lo", sa.BigInteger(), nullable=False),
        sa.Column("hi", sa.BigInteger(), nullable=False),
        sa.Column("delivery_id", sa.String(length=64), nullable=False),
        sa.Column("n_events", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_halfpipe_span")),
    )
    with op.batch_alter_table("halfpipe_span", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_halfpipe_span_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("halfpipe_span", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_halfpipe_span_run_id"))

    op.drop_table("halfpipe_span")
    with op.batch_alter_table("halfpipe_sighting", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_halfpipe_sighting_run_id"))

    op.drop_table("halfpipe_sighting")
    op.drop_table("halfpipe_run")
    with op.batch_alter_table("halfpipe_problem", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_halfpipe_problem_delivery_id"))

    op.drop_table("halfpipe_problem")
    op.drop_table("halfpipe_lock")
    with op.batch_alter_table("halfpipe_held", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_halfpipe_held_run_id"))

    op.drop_table("halfpipe_held")
    with op.batch_alter_table("halfpipe_fragment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_halfpipe_fragment_delivery_id"))

    op.drop_table("halfpipe_fragment")
    with op.batch_alter_table("halfpipe_file", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_halfpipe_file_run_id"))

    op.drop_table("halfpipe_file")
    op.drop_table("halfpipe_delivery")
    with op.batch_alter_table("halfpipe_datagram", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_halfpipe_datagram_run_id"))

    op.drop_table("halfpipe_datagram")
