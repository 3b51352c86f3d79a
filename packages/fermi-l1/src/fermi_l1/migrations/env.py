"""Alembic environment of fermi_l1: its own version table, its own tables only."""

from fermi_core.migrations.runner import run_env
from fermi_l1.migrations import SPEC

run_env(SPEC)
