"""The shared database: declarative base, engine and sessions from ``FERMI_DB_URL``.

Every package declares its tables on :class:`Base`. SQLite is the embedded default (one machine);
PostgreSQL (``postgresql://…``, driven by psycopg 3) is the production backend, through the same
code: only portable SQL is used, and backend-specific statements (SQLite pragmas here, advisory
locks in the packages) sit behind a test of the dialect.

The declarative base itself is in :mod:`fermi_core.schema` (re-exported here). The schema of each package is versioned by its own Alembic migrations
(:mod:`fermi_core.migrations.runner`). :func:`get_engine` creates a missing schema at the newest
revision, and refuses a database whose schema is older (run ``fermi-core db upgrade``) or newer
than the installed software knows (:class:`SchemaVersionError`).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from fermi_core.schema import Base, SchemaVersionError, normalize_url, safe_url
from fermi_core.site import Site

__all__ = [
    "Base", "SchemaVersionError", "default_url", "get_engine", "normalize_url", "retrying_transaction",
    "safe_url", "session_scope",
]  # fmt: skip

T = TypeVar("T")


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


def default_url() -> str:
    """The database URL of the site in the environment (``FERMI_DB_URL`` or SQLite in ``FERMI_HOME``)."""
    return Site.from_env().db_url


def _postgres_engine_args() -> dict[str, object]:
    """Engine and connect arguments of a PostgreSQL engine: pool and timeouts."""
    t = db_timeouts()
    settings = {
        "lock_timeout": t["lock"],
        "statement_timeout": t["statement"],
        "idle_in_transaction_session_timeout": t["idle_in_transaction"],
    }
    options = " ".join(f"-c {k}={int(v * 1000)}" for k, v in settings.items())
    connect_args: dict[str, object] = {"options": options, "application_name": "fermi"}
    if t["connect"] > 0:
        connect_args["connect_timeout"] = max(1, round(t["connect"]))
    engine_args: dict[str, object] = {
        "pool_size": db_pool_size(),
        "max_overflow": 2 * db_pool_size(),
        "pool_timeout": max(t["connect"], 30.0),
        "pool_pre_ping": True,  # a server restart or a killed connection is noticed at checkout
        "pool_recycle": 1800,
        "connect_args": connect_args,
    }
    return engine_args


@lru_cache(maxsize=16)
def engine_for(url: str) -> Engine:
    """The engine of ``url`` (normalised), made once per process; no schema check (see :func:`get_engine`)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    kwargs: dict[str, object] = {}
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": db_timeouts()["lock"] or 60}
    elif backend == "postgresql":
        kwargs = _postgres_engine_args()
    engine = create_engine(url, **kwargs)
    if backend == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - exercised through every test
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

    return engine


def _forget_connections_after_fork() -> None:
    # A forked child must not reuse its parent's pooled connections (SQLAlchemy's documented
    # pattern): drop the pools without closing the parent's sockets.
    for engine in _cached_engines():
        engine.dispose(close=False)


def _cached_engines() -> list[Engine]:
    # lru_cache keeps no public list of its values: keep one alongside
    return list(_ENGINES.values())


_ENGINES: dict[str, Engine] = {}
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_connections_after_fork)

#: URL -> (number of tables on Base, tables created?) when its schema was last checked in this process
_SCHEMA_READY: dict[str, tuple[int, bool]] = {}


def get_engine(url: str | None = None, create: bool = True) -> Engine:
    """Return the engine of ``url`` (default :func:`default_url`).

    The first call for a URL in a process checks the schema revision of every installed package
    (and with ``create`` makes the missing tables at the newest revision).

    Raises
    ------
    SchemaVersionError
        A package's schema in the database is older than the software (run
        ``fermi-core db upgrade``) or newer than it knows.
    """
    key = normalize_url(url or default_url())
    engine = engine_for(key)
    _ENGINES[key] = engine
    # checked again when a module registered more tables since (they are created if missing)
    ready = _SCHEMA_READY.get(key)
    if ready is None or ready[0] != len(Base.metadata.tables) or (create and not ready[1]):
        from fermi_core.migrations import runner

        runner.prepare_schema(engine, create=create)
        _SCHEMA_READY[key] = (len(Base.metadata.tables), create)
    return engine


def forget_schema_check(url: str | None = None) -> None:
    """Make the next :func:`get_engine` of ``url`` (default: every URL) check the schema again."""
    if url is None:
        _SCHEMA_READY.clear()
    else:
        _SCHEMA_READY.pop(normalize_url(url), None)


@lru_cache(maxsize=16)
def _session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """Yield a session that commits at the end of the block and rolls back on error."""
    session = _session_factory(get_engine(url))()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


#: SQLSTATEs worth retrying: serialization failure, deadlock detected
_RETRY_SQLSTATES = {"40001", "40P01"}


def is_retryable(error: BaseException) -> bool:
    """True for a transaction conflict that succeeds when run again.

    PostgreSQL serialization failures and deadlock victims (SQLSTATE 40001, 40P01); SQLite's
    "database is locked" after its busy timeout.
    """
    if not isinstance(error, DBAPIError):
        return False
    orig = error.orig
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate in _RETRY_SQLSTATES:
        return True
    return isinstance(error, OperationalError) and "database is locked" in str(orig)


def retrying_transaction(
    work: Callable[[Session], T],
    url: str | None = None,
    attempts: int = 5,
    isolation_level: str | None = None,
    backoff: float = 0.05,
) -> T:
    """Run ``work(session)`` in a transaction; run it again when the database reports a conflict.

    On PostgreSQL concurrent transactions run side by side and the loser of a conflict is run
    again; on SQLite the transaction takes the database's write lock when it starts
    (``BEGIN IMMEDIATE``), so writers wait for one another (busy timeout) instead.

    ``work`` must do all its database work through the session it is given (it may be called
    several times, each time in a new transaction) and return a value that does not need the
    session. The transaction commits when ``work`` returns.

    Parameters
    ----------
    work
        The transaction body.
    url
        Database URL (default ``FERMI_DB_URL``).
    attempts
        How many times to try before giving up (the last error is raised).
    isolation_level
        e.g. ``"SERIALIZABLE"`` on PostgreSQL (default: the backend's default).
    backoff
        First pause in seconds between attempts; doubled each time, with jitter.
    """
    if attempts < 1:
        raise ValueError(f"retrying_transaction: attempts={attempts} must be >= 1")
    engine = get_engine(url)
    for attempt in range(1, attempts + 1):
        bind = engine.execution_options(isolation_level=isolation_level) if isolation_level else engine
        with Session(bind=bind, expire_on_commit=False) as session:
            try:
                if engine.dialect.name == "sqlite":
                    # pysqlite runs reads outside any transaction until the first write: take the
                    # write lock first, so what ``work`` reads cannot change before it writes
                    session.connection().exec_driver_sql("BEGIN IMMEDIATE")
                result = work(session)
                session.commit()
                return result
            except DBAPIError as exc:
                session.rollback()
                if attempt == attempts or not is_retryable(exc):
                    raise
            time.sleep(backoff * 2 ** (attempt - 1) * (0.5 + random.random()))
    raise AssertionError("unreachable")  # pragma: no cover
