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


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"${name}={raw!r}: not a number of seconds") from None
    if value < 0:
        raise ValueError(f"${name}={raw!r}: must be >= 0 seconds (0 disables the timeout)")
    return value


def db_timeouts() -> dict[str, float]:
    """Server-side timeouts in seconds (0 disables one), from the environment.

    ``connect`` (``$FERMI_DB_CONNECT_TIMEOUT``, default 10): giving up on an unreachable server.
    ``lock`` (``$FERMI_DB_LOCK_TIMEOUT``, default 900): waiting for a row or advisory lock, e.g.
    a merger waiting for another one to finish the same run.
    ``statement`` (``$FERMI_DB_STATEMENT_TIMEOUT``, default 0): any single statement.
    ``idle_in_transaction`` (``$FERMI_DB_IDLE_TIMEOUT``, default 1800): a session left idle
    inside a transaction (a hung process) loses its connection, so its locks are released.
    """
    return {
        "connect": _seconds("FERMI_DB_CONNECT_TIMEOUT", 10.0),
        "lock": _seconds("FERMI_DB_LOCK_TIMEOUT", 900.0),
        "statement": _seconds("FERMI_DB_STATEMENT_TIMEOUT", 0.0),
        "idle_in_transaction": _seconds("FERMI_DB_IDLE_TIMEOUT", 1800.0),
    }


def db_pool_size() -> int:
    """Connections kept open per process on a server database (``$FERMI_DB_POOL_SIZE``, default 5)."""
    raw = os.environ.get("FERMI_DB_POOL_SIZE", "").strip() or "5"
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"$FERMI_DB_POOL_SIZE={raw!r}: must be a positive integer")
    return int(raw)
