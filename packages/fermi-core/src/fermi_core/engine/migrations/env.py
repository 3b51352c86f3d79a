"""Alembic environment of the task engine: its own version table, its own tables only."""

from fermi_core.engine.migrations import SPEC
from fermi_core.migrations.runner import run_env

run_env(SPEC)
