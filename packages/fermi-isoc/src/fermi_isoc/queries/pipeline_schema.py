"""The pipeline run-state layout isoc reads (tables of fermi-l1's pipeline driver).

Declared with SQLAlchemy Core on a private ``MetaData`` so it never clashes with fermi-l1's own
declarations on the shared base: isoc only reads. Tests create these tables to stand for the
driver. Columns follow architecture.md (every attempt: state, attempt number, host, batch id,
exit code, log path, start/end).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, Table, Text

metadata = MetaData()

RUN = Table(
    "l1_pipeline_run",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(128), unique=True),  # e.g. "L1Proc/r0429066902"
    Column("task", String(64)),
    Column("run_id", BigInteger, nullable=True),  # LAT run id (MET of its start)
    Column("delivery_id", String(64), nullable=True),
    Column("state", String(16)),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
)

ATTEMPT = Table(
    "l1_pipeline_attempt",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_pk", Integer, index=True),
    Column("step", String(64)),
    Column("attempt", Integer),
    Column("state", String(16)),
    Column("exit_code", Integer, nullable=True),
    Column("host", String(128), nullable=True),
    Column("batch_id", String(64), nullable=True),
    Column("log_path", Text, nullable=True),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("ended_at", DateTime(timezone=True), nullable=True),
)
