"""product versions: processing version, supersedes and lost events of catalogued files; run versions; campaigns

Revision ID: l1_0003
Revises: l1_0002
Create Date: 2026-12-02 10:30:00

Rows of an older catalog get the processing version of their file name and, for a version
above 1, the version they supersede (the next lower one of the same logical path); their lost
events stay unknown (NULL).
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "l1_0003"
down_revision = "l1_0002"
branch_labels = None
depends_on = None

_PROC = re.compile(r"_p(\d+)_r\d{10}_v\d{3}\.fit$")


def upgrade() -> None:
    with op.batch_alter_table("l1_catalog_dataset", schema=None) as batch_op:
        batch_op.add_column(sa.Column("proc_ver", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("supersedes", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("lost_events", sa.BigInteger(), nullable=True))
    op.create_table(
        "l1_campaign",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("selection", sa.Text(), nullable=False),
        sa.Column("processing_version", sa.Integer(), nullable=True),
        sa.Column("processing_date", sa.String(length=19), nullable=False),
        sa.Column("software", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_l1_campaign")),
        sa.UniqueConstraint("name", name=op.f("uq_l1_campaign_name")),
    )
    with op.batch_alter_table("l1_campaign", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_l1_campaign_state"), ["state"], unique=False)
    op.create_table(
        "l1_run_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("proc_ver", sa.Integer(), nullable=False),
        sa.Column("halfpipe_revision", sa.Integer(), nullable=False),
        sa.Column("completion", sa.String(length=16), nullable=False),
        sa.Column("lost_events", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("plan", sa.Text(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["l1_campaign.id"], name=op.f("fk_l1_run_version_campaign_id_l1_campaign")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_l1_run_version")),
        sa.UniqueConstraint("run", "version", name=op.f("uq_l1_run_version_run")),
    )
    with op.batch_alter_table("l1_run_version", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_l1_run_version_campaign_id"), ["campaign_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_l1_run_version_run"), ["run"], unique=False)

    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, logical_path, version, file_path FROM l1_catalog_dataset")).all()
    versions: dict[str, list[int]] = {}
    for _, lpath, version, _ in rows:
        versions.setdefault(lpath, []).append(int(version))
    for row_id, lpath, version, file_path in rows:
        m = _PROC.search(str(file_path))
        lower = [v for v in versions[lpath] if v < version]
        bind.execute(
            sa.text("UPDATE l1_catalog_dataset SET proc_ver = :p, supersedes = :s WHERE id = :i"),
            {"p": int(m.group(1)) if m else None, "s": max(lower) if lower else None, "i": row_id},
        )


def downgrade() -> None:
    with op.batch_alter_table("l1_run_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_l1_run_version_run"))
        batch_op.drop_index(batch_op.f("ix_l1_run_version_campaign_id"))
    op.drop_table("l1_run_version")
    with op.batch_alter_table("l1_campaign", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_l1_campaign_state"))
    op.drop_table("l1_campaign")
    with op.batch_alter_table("l1_catalog_dataset", schema=None) as batch_op:
        batch_op.drop_column("lost_events")
        batch_op.drop_column("supersedes")
        batch_op.drop_column("proc_ver")
