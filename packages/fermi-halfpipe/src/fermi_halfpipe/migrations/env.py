"""Alembic environment of fermi_halfpipe: its own version table, its own tables only."""

from fermi_halfpipe.migrations import SPEC
from fermi_ingest.migrations.runner import run_env

run_env(SPEC)
