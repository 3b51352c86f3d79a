"""The declarative base every package declares its tables on, and URL helpers.

Kept apart from :mod:`fermi_core.db` (engines, sessions) so that the migration runner can use
the base without importing the engine module that calls it.
"""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import DeclarativeBase

_NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every table of the monorepo."""

    metadata = MetaData(naming_convention=_NAMING)


class SchemaVersionError(RuntimeError):
    """The database schema of a package is not the revision this software was written for."""


def normalize_url(url: str) -> str:
    """Return ``url`` with the psycopg 3 driver for PostgreSQL (``postgresql://`` → ``+psycopg``)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def safe_url(url: str | URL) -> str:
    """``url`` with its password hidden, for messages and logs."""
    return make_url(str(url) if isinstance(url, URL) else url).render_as_string(hide_password=True)
