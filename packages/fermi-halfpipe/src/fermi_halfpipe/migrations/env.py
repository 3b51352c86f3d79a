"""Alembic environment of fermi_halfpipe: its own version table, its own tables only."""

from fermi_core.migrations.runner import run_env
from fermi_halfpipe.migrations import SPEC

run_env(SPEC)
