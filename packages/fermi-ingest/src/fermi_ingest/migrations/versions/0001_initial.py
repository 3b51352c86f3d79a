"""initial schema (as created before migrations existed)

Revision ID: ingest_0001
Revises:
Create Date: 2026-11-23 16:39:43.287955
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ingest_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.String(length=32), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("scid", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("archive_dir", sa.String(length=1024), nullable=False),
        sa.Column("n_files", sa.Integer(), nullable=False),
        sa.Column("n_bytes", sa.BigInteger(), nullable=False),
        sa.Column("n_packets", sa.BigInteger(), nullable=False),
        sa.Column("n_quarantined", sa.Integer(), nullable=False),
        sa.Column("quarantined_bytes", sa.BigInteger(), nullable=False),
        sa.Column("met_start", sa.Float(), nullable=True),
        sa.Column("met_stop", sa.Float(), nullable=True),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_delivery")),
        sa.UniqueConstraint("delivery_id", name=op.f("uq_ingest_delivery_delivery_id")),
    )
    op.create_table(
        "ingest_chunk",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_pk", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=True),
        sa.Column("apids", sa.String(length=255), nullable=False),
        sa.Column("met_start", sa.Float(), nullable=False),
        sa.Column("met_stop", sa.Float(), nullable=False),
        sa.Column("n_packets", sa.BigInteger(), nullable=False),
        sa.Column("n_datagrams", sa.BigInteger(), nullable=False),
        sa.Column("n_bytes", sa.BigInteger(), nullable=False),
        sa.Column("json_path", sa.String(length=1024), nullable=False),
        sa.Column("xml_path", sa.String(length=1024), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_pk"], ["ingest_delivery.id"], name=op.f("fk_ingest_chunk_delivery_pk_ingest_delivery")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_chunk")),
        sa.UniqueConstraint("delivery_pk", "number", name=op.f("uq_ingest_chunk_delivery_pk")),
    )
    op.create_table(
        "ingest_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_pk", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("archive_path", sa.String(length=1024), nullable=False),
        sa.Column("n_packets", sa.BigInteger(), nullable=False),
        sa.Column("good_bytes", sa.BigInteger(), nullable=False),
        sa.Column("quarantined_bytes", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_pk"], ["ingest_delivery.id"], name=op.f("fk_ingest_file_delivery_pk_ingest_delivery")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_file")),
        sa.UniqueConstraint("delivery_pk", "name", name=op.f("uq_ingest_file_delivery_pk")),
    )
    op.create_table(
        "ingest_gap",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("apid", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("missing", sa.Integer(), nullable=False),
        sa.Column("seq_before", sa.Integer(), nullable=False),
        sa.Column("seq_after", sa.Integer(), nullable=False),
        sa.Column("met_before", sa.Float(), nullable=False),
        sa.Column("met_after", sa.Float(), nullable=False),
        sa.Column("delivery_before_pk", sa.Integer(), nullable=False),
        sa.Column("delivery_after_pk", sa.Integer(), nullable=False),
        sa.Column("found_by_pk", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("filled_by_pk", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_after_pk"],
            ["ingest_delivery.id"],
            name=op.f("fk_ingest_gap_delivery_after_pk_ingest_delivery"),
        ),
        sa.ForeignKeyConstraint(
            ["delivery_before_pk"],
            ["ingest_delivery.id"],
            name=op.f("fk_ingest_gap_delivery_before_pk_ingest_delivery"),
        ),
        sa.ForeignKeyConstraint(
            ["filled_by_pk"], ["ingest_delivery.id"], name=op.f("fk_ingest_gap_filled_by_pk_ingest_delivery")
        ),
        sa.ForeignKeyConstraint(
            ["found_by_pk"], ["ingest_delivery.id"], name=op.f("fk_ingest_gap_found_by_pk_ingest_delivery")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_gap")),
    )
    with op.batch_alter_table("ingest_gap", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ingest_gap_apid"), ["apid"], unique=False)

    op.create_table(
        "ingest_apid_span",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_pk", sa.Integer(), nullable=False),
        sa.Column("file_pk", sa.Integer(), nullable=False),
        sa.Column("apid", sa.Integer(), nullable=False),
        sa.Column("n_packets", sa.BigInteger(), nullable=False),
        sa.Column("first_seq", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("met_start", sa.Float(), nullable=False),
        sa.Column("met_stop", sa.Float(), nullable=False),
        sa.Column("first_offset", sa.BigInteger(), nullable=False),
        sa.Column("last_offset", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_pk"],
            ["ingest_delivery.id"],
            name=op.f("fk_ingest_apid_span_delivery_pk_ingest_delivery"),
        ),
        sa.ForeignKeyConstraint(
            ["file_pk"], ["ingest_file.id"], name=op.f("fk_ingest_apid_span_file_pk_ingest_file")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_apid_span")),
    )
    with op.batch_alter_table("ingest_apid_span", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ingest_apid_span_apid"), ["apid"], unique=False)
        batch_op.create_index(batch_op.f("ix_ingest_apid_span_delivery_pk"), ["delivery_pk"], unique=False)

    op.create_table(
        "ingest_quarantine",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_pk", sa.Integer(), nullable=False),
        sa.Column("file_pk", sa.Integer(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("apid", sa.Integer(), nullable=True),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_pk"],
            ["ingest_delivery.id"],
            name=op.f("fk_ingest_quarantine_delivery_pk_ingest_delivery"),
        ),
        sa.ForeignKeyConstraint(
            ["file_pk"], ["ingest_file.id"], name=op.f("fk_ingest_quarantine_file_pk_ingest_file")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_quarantine")),
    )
    with op.batch_alter_table("ingest_quarantine", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ingest_quarantine_delivery_pk"), ["delivery_pk"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ingest_quarantine", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_quarantine_delivery_pk"))

    op.drop_table("ingest_quarantine")
    with op.batch_alter_table("ingest_apid_span", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_apid_span_delivery_pk"))
        batch_op.drop_index(batch_op.f("ix_ingest_apid_span_apid"))

    op.drop_table("ingest_apid_span")
    with op.batch_alter_table("ingest_gap", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_gap_apid"))

    op.drop_table("ingest_gap")
    op.drop_table("ingest_file")
    op.drop_table("ingest_chunk")
    op.drop_table("ingest_delivery")
