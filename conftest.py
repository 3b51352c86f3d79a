"""Repository-wide pytest configuration: the ``requires_data`` marker and the database backends.

Tests marked ``@pytest.mark.requires_data`` read real Fermi flight data from the
shared folder (``FERMI_SHARED_DATA``, default ``../shared/data`` beside the
checkout). They are skipped, with the reason, when that folder is absent; the
files are never copied into the project.

``db_url`` gives a test a fresh, empty database on each backend (SQLite, and PostgreSQL when
``FERMI_TEST_PG_URL`` names a server where we may create and drop databases; ``ci/postgres.sh``
starts one), set as ``FERMI_DB_URL`` with a fresh ``FERMI_HOME``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from fermi_core import db as fdb

ROOT = Path(__file__).resolve().parent
SHARED_DATA = Path(os.environ.get("FERMI_SHARED_DATA", ROOT.parent / "shared" / "data"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SHARED_DATA.is_dir():
        return
    skip = pytest.mark.skip(reason=f"real Fermi data folder {SHARED_DATA} is absent")
    for item in items:
        if "requires_data" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of the real Fermi data folder (tests using it must be marked requires_data)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real Fermi data folder {SHARED_DATA} is absent")
    return SHARED_DATA


PG_ENV = "FERMI_TEST_PG_URL"


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


@pytest.fixture
def pg_database() -> Iterator:
    """A factory of further fresh PostgreSQL databases (each dropped after the test): ``url = pg_database()``."""
    server = pg_server_url()
    made: list[str] = []

    def make() -> str:
        made.append(_fresh_pg_database(server))
        return made[-1]

    yield make
    for url in made:
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
