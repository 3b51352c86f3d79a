"""Database access for fermi-l1: the shared database of fermi-ingest with the L1 tables registered."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

import fermi_l1.catalog.models  # noqa: F401  (registers the catalog and the task engine's tables)
from fermi_core.db import session_scope


@contextmanager
def session(url: str | None = None) -> Iterator[Session]:
    """Yield a session on ``url`` (default ``FERMI_DB_URL``) that commits at the end of the block."""
    with session_scope(url) as s:
        yield s
