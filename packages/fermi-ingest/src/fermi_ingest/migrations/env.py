"""Alembic environment of fermi_ingest: its own version table, its own tables only."""

from fermi_ingest.migrations import SPEC
from fermi_ingest.migrations.runner import run_env

run_env(SPEC)
