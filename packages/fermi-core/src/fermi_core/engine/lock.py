"""One driver per data home: a lock row in the database, with host, pid, start and heartbeat.

Two drivers working on one data home at once run the same task runs twice, collide on the
temporary folders of their attempts and record each other's attempts as crashed. A driver
therefore holds :func:`driver_lock` for its whole pass::

    with driver_lock(site, "fermi-l1 pipeline"):
        run_pipeline(site, executor)

The lock is one row of ``pipeline_driver`` (:class:`~fermi_core.engine.models.DriverLock`) in
the data home's database, so it excludes drivers on every host that uses that database. While
held, a thread renews its ``heartbeat_at`` every :data:`HEARTBEAT_SECONDS`.

**When a lock is stale** (its driver is gone, and the next driver takes it over):

* its ``pid`` no longer exists on its ``host``, judged only on that same host (the pid of a
  process on another machine cannot be checked from here); or
* its heartbeat is older than :data:`STALE_SECONDS` (the driver's host died, the driver was
  frozen, or the pid was reused by another process after a kill).

A driver killed with SIGKILL leaves its row behind: the next driver on the same host takes it
over at once, one on another host after :data:`STALE_SECONDS`. Otherwise a second driver gets
:class:`DriverBusy`, whose message says who holds the lock (command, host, pid, since when);
commands print it as one line and exit with :data:`EXIT_DRIVER_BUSY`.

Taking the lock is one serialised transaction (PostgreSQL: an advisory transaction lock;
SQLite: the write lock, ``BEGIN IMMEDIATE``): the check "no live holder" and the write of the
row cannot interleave, so two drivers starting together never both win, and neither fails on
the row's unique constraint.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from fermi_core.db import session_scope
from fermi_core.engine.models import DriverLock, utcnow
from fermi_core.site import Site

__all__ = [
    "EXIT_DRIVER_BUSY",
    "HEARTBEAT_SECONDS",
    "LOCK_NAME",
    "STALE_SECONDS",
    "DriverBusy",
    "Lease",
    "driver_lock",
    "holder_of",
    "pid_alive",
    "stale_reason",
]

#: exit code of a driver command that found another driver at work on its data home (EX_TEMPFAIL)
EXIT_DRIVER_BUSY = 75
#: seconds between two renewals of a held lock
HEARTBEAT_SECONDS = 10.0
#: a lock whose heartbeat is older than this many seconds is stale
STALE_SECONDS = 60.0
#: name of the engine's lock row
LOCK_NAME = "pipeline"
#: advisory-lock key of taking the driver lock (PostgreSQL; re-run requests use 5115010)
_LOCK_KEY = 5115011

log = logging.getLogger(__name__)

#: held while a heartbeat writes, and across every fork of this process: a worker forked by the
#: process pool never inherits a database connection or pool mutex in the middle of a renewal
_BEAT = threading.Lock()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_BEAT.acquire, after_in_parent=_BEAT.release, after_in_child=_BEAT.release)


class DriverBusy(RuntimeError):
    """Another driver holds the data home's lock; the message says who, where and since when."""

    def __init__(self, message: str, holder: Lease) -> None:
        super().__init__(message)
        self.holder = holder


@dataclass(frozen=True)
class Lease:
    """Who holds (or held) a driver lock."""

    holder: str
    home: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    token: str = ""

    def describe(self, now: datetime | None = None) -> str:
        """``fermi-l1 pipeline on host h pid 123 since 2026-12-02T10:00:00Z (heartbeat 4 s ago)``."""
        now = now or utcnow()
        since = _aware(self.started_at).strftime("%Y-%m-%dT%H:%M:%SZ")
        age = max(0.0, (now - _aware(self.heartbeat_at)).total_seconds())
        return f"{self.holder} on host {self.host} pid {self.pid} since {since} (heartbeat {age:.0f} s ago)"


def pid_alive(host: str, pid: int) -> bool:
    """False only when ``pid`` is known not to exist on ``host`` (checked on that host only)."""
    if host != socket.gethostname():
        return True  # cannot tell from here
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _aware(t: datetime) -> datetime:
    """SQLite gives naive datetimes back: they were stored as UTC."""
    return t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)


def _lease(row: DriverLock) -> Lease:
    return Lease(row.holder, row.home, row.host, row.pid, row.started_at, row.heartbeat_at, row.token)


def stale_reason(lease: Lease, now: datetime | None = None, stale_after: float = STALE_SECONDS) -> str:
    """Why ``lease`` is stale (its pid gone on its host, or its heartbeat too old), or ``""`` if live."""
    now = now or utcnow()
    if not pid_alive(lease.host, lease.pid):
        return f"pid {lease.pid} no longer exists on {lease.host}"
    age = (now - _aware(lease.heartbeat_at)).total_seconds()
    if age > stale_after:
        return f"no heartbeat for {age:.0f} s (limit {stale_after:g} s)"
    return ""


def _serialize(s: Session) -> None:
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    else:
        s.connection().exec_driver_sql("BEGIN IMMEDIATE")


def acquire(site: Site, holder: str, *, name: str = LOCK_NAME, stale_after: float = STALE_SECONDS) -> Lease:
    """Take the lock ``name`` of ``site``'s database for this process; see :func:`driver_lock`.

    Raises
    ------
    DriverBusy
        A live driver holds it.
    """
    now = utcnow()
    mine = Lease(holder, str(site.home), socket.gethostname(), os.getpid(), now, now, secrets.token_hex(16))
    with session_scope(site.db_url) as s:
        _serialize(s)
        row = s.scalars(select(DriverLock).where(DriverLock.name == name)).one_or_none()
        if row is not None:
            other = _lease(row)
            reason = stale_reason(other, now, stale_after)
            if not reason:
                raise DriverBusy(
                    f"another driver is at work on the data home {other.home}: {other.describe(now)}", other
                )
            log.warning("driver lock %s: taking over from %s: %s", name, other.describe(now), reason)
            s.delete(row)
            s.flush()
        s.add(DriverLock(name=name, holder=mine.holder, home=mine.home, host=mine.host, pid=mine.pid,
                         token=mine.token, started_at=now, heartbeat_at=now))  # fmt: skip
    return mine


def renew(site: Site, lease: Lease, *, name: str = LOCK_NAME) -> bool:
    """Renew the heartbeat of ``lease``; False if the lock is no longer this lease's (taken over)."""
    with _BEAT, session_scope(site.db_url) as s:
        changed = s.execute(
            update(DriverLock)
            .where(DriverLock.name == name, DriverLock.token == lease.token)
            .values(heartbeat_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
    return changed == 1


def release(site: Site, lease: Lease, *, name: str = LOCK_NAME) -> None:
    """Give the lock up (only if it is still ``lease``'s)."""
    with _BEAT, session_scope(site.db_url) as s:
        s.execute(
            delete(DriverLock)
            .where(DriverLock.name == name, DriverLock.token == lease.token)
            .execution_options(synchronize_session=False)
        )


def holder_of(site: Site, *, name: str = LOCK_NAME) -> Lease | None:
    """Who holds the lock now (a stale row included), or None."""
    with session_scope(site.db_url) as s:
        row = s.scalars(select(DriverLock).where(DriverLock.name == name)).one_or_none()
        return None if row is None else _lease(row)


class _Heartbeat(threading.Thread):
    def __init__(self, site: Site, lease: Lease, name: str, period: float) -> None:
        super().__init__(name=f"driver-lock-heartbeat-{name}", daemon=True)
        self.site, self.lease, self.lock_name, self.period = site, lease, name, period
        self.stopped = threading.Event()
        self.lost = False

    def run(self) -> None:
        while not self.stopped.wait(self.period):
            try:
                if not renew(self.site, self.lease, name=self.lock_name):
                    self.lost = True
                    log.error("driver lock %s was taken over by another driver", self.lock_name)
                    return
            except Exception:
                log.warning("driver lock %s: heartbeat failed", self.lock_name, exc_info=True)


@contextmanager
def driver_lock(
    site: Site,
    holder: str,
    *,
    name: str = LOCK_NAME,
    heartbeat: float = HEARTBEAT_SECONDS,
    stale_after: float = STALE_SECONDS,
) -> Iterator[Lease]:
    """Hold the data home's driver lock for the block (one driver per data home at a time).

    Parameters
    ----------
    site
        The data home; the lock is a row in its database.
    holder
        The command holding it, for the message of the next one (``"fermi-l1 pipeline"``).
    name
        Lock name (default :data:`LOCK_NAME`, the engine's).
    heartbeat, stale_after
        Seconds between renewals, and the heartbeat age after which the lock is stale.

    Yields
    ------
    Lease
        This driver's lease.

    Raises
    ------
    DriverBusy
        A live driver holds the lock (see the module documentation for when one is stale).
    """
    lease = acquire(site, holder, name=name, stale_after=stale_after)
    beat = _Heartbeat(site, lease, name, heartbeat)
    beat.start()
    try:
        yield lease
    finally:
        beat.stopped.set()
        beat.join()
        try:
            release(site, lease, name=name)
        except Exception:
            log.warning("driver lock %s: could not release it", name, exc_info=True)
