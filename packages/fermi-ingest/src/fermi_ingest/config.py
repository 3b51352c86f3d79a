"""Site configuration shared by every package: ``FERMI_HOME`` and ``FERMI_DB_URL``."""

from __future__ import annotations

import os
from pathlib import Path


def fermi_home() -> Path:
    """Root of the data tree (``$FERMI_HOME``, default ``./fermi-data``), as an absolute path."""
    return Path(os.environ.get("FERMI_HOME", "fermi-data")).expanduser().resolve()


def db_url() -> str:
    """SQLAlchemy URL of the database (``$FERMI_DB_URL``, default SQLite in ``FERMI_HOME``)."""
    url = os.environ.get("FERMI_DB_URL", "").strip()
    return url or f"sqlite:///{fermi_home() / 'fermi.db'}"


def archive_dir() -> Path:
    """Where delivered packet files are archived (one folder per delivery)."""
    return fermi_home() / "archive" / "level0"


def quarantine_dir() -> Path:
    """Where quarantined bytes are kept, byte-exact (one folder per delivery)."""
    return fermi_home() / "quarantine"


def chunks_dir() -> Path:
    """Where chunk manifests are written (one folder per delivery)."""
    return fermi_home() / "chunks"
