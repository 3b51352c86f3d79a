"""Which tables the database holds, asked through the session's own connection.

The page and the alarms check that another package's tables exist before reading them (a data
home where that stage never ran has none). Inspecting ``session.get_bind()`` would check out a
*second* pooled connection while the request already holds one: under load every request waits
for a connection held by another waiting request (the pool deadlock). Here the inspection goes
through ``session.connection()``, and a table once seen is remembered per database (tables are
never dropped while a server runs), so a warm request asks the catalog nothing at all.
"""

from __future__ import annotations

import threading

from sqlalchemy import inspect
from sqlalchemy.orm import Session

_SEEN: dict[str, frozenset[str]] = {}
_LOCK = threading.Lock()


def _database_key(session: Session) -> str:
    """Identity of the session's database (its URL; no connection is checked out)."""
    return session.get_bind().url.render_as_string(hide_password=False)


def table_names(session: Session) -> set[str]:
    """Names of the tables of the session's database, read through the session's connection."""
    names = set(inspect(session.connection()).get_table_names())
    key = _database_key(session)
    with _LOCK:
        _SEEN[key] = _SEEN.get(key, frozenset()) | frozenset(names)
    return names


def has_tables(session: Session, *names: str) -> bool:
    """True when every table of ``names`` exists (remembered once seen; no second connection)."""
    wanted = frozenset(names)
    if wanted <= _SEEN.get(_database_key(session), frozenset()):
        return True
    return wanted <= table_names(session)
