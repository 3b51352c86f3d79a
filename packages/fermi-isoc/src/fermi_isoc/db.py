"""Database access for isoc: the shared session of fermi-ingest, with isoc's tables registered."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

import fermi_isoc.models  # noqa: F401  (registers isoc's tables on the shared base)
from fermi_core.db import session_scope


@contextmanager
def isoc_session(url: str | None = None) -> Iterator[Session]:
    """Yield a session on ``url`` (default ``FERMI_DB_URL``) that commits at the end."""
    with session_scope(url) as session:
        yield session
