"""Fixtures of the cross-package database tests (``db_url``, ``pg_url`` come from the root conftest).

PostgreSQL runs when ``FERMI_TEST_PG_URL`` names a server database where we may create and drop
databases (``ci/postgres.sh`` starts one); each test gets a database of its own, dropped after.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def workers():
    """The module ``tests/db/workers.py`` (helpers shared by the tests and their subprocesses)."""
    spec = importlib.util.spec_from_file_location("fermi_db_test_workers", HERE / "workers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
