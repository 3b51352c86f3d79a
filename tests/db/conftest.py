"""Fixtures of the cross-package database tests: one database per test, on SQLite and PostgreSQL.

PostgreSQL runs when ``FERMI_TEST_PG_URL`` names a server database where we may create and drop
databases (``ci/postgres.sh`` starts one); each test gets a database of its own, dropped after.
"""

from __future__ import annotations

import importlib.util
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from fermi_core import db as fdb

PG_ENV = "FERMI_TEST_PG_URL"
HERE = Path(__file__).resolve().parent


def pg_server_url() -> str:
    """The PostgreSQL URL of the test server (the test is skipped, with the reason, when unset)."""
    url = os.environ.get(PG_ENV, "").strip()
    if not url:
        pytest.skip(f"${PG_ENV} is unset: no PostgreSQL server for this run (ci/postgres.sh starts one)")
    return fdb.normalize_url(url)


def _admin(url: str):
    return create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)


def _fresh_pg_database(server: str) -> str:
    name = f"fermi_t_{uuid.uuid4().hex[:16]}"
    engine = _admin(server)
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def _drop_pg_database(server: str, url: str) -> None:
    engine = fdb._ENGINES.pop(url, None)
    if engine is not None:
        engine.dispose()
    fdb.forget_schema_check(url)
    admin = _admin(server)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_url(tmp_path, monkeypatch) -> Iterator[str]:
    """A fresh, empty PostgreSQL database, also set as ``FERMI_DB_URL`` with a fresh ``FERMI_HOME``."""
    server = pg_server_url()
    url = _fresh_pg_database(server)
    monkeypatch.setenv("FERMI_DB_URL", url)
    monkeypatch.setenv("FERMI_HOME", str(tmp_path / "home"))
    try:
        yield url
    finally:
        _drop_pg_database(server, url)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path, monkeypatch) -> Iterator[str]:
    """A fresh, empty database on each backend, also set as ``FERMI_DB_URL`` (with a fresh home)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'fermi.db'}"
        monkeypatch.setenv("FERMI_DB_URL", url)
        monkeypatch.setenv("FERMI_HOME", str(tmp_path / "home"))
        yield url
        engine = fdb._ENGINES.pop(url, None)
        if engine is not None:
            engine.dispose()
        return
    yield request.getfixturevalue("pg_url")


@pytest.fixture(scope="session")
def workers():
    """The module ``tests/db/workers.py`` (helpers shared by the tests and their subprocesses)."""
    spec = importlib.util.spec_from_file_location("fermi_db_test_workers", HERE / "workers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
