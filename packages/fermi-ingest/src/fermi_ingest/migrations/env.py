"""Alembic environment of fermi_ingest: its own version table, its own tables only."""

from fermi_core.migrations.runner import run_env
from fermi_ingest.migrations import SPEC

run_env(SPEC)
