"""Database locks of the halfpipe: one merger per delivery, one per run, at a time.

Both are taken inside the merge transaction and released by its commit or rollback.
"""

from __future__ import annotations

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from fermi_halfpipe import models as M

#: First key of the PostgreSQL advisory locks on a delivery id (second key: ``hashtext(delivery id)``).
DELIVERY_LOCK_KEY = 5115006
#: First key of the PostgreSQL advisory locks on a run id (second key: run id mod 2**31).
RUN_LOCK_KEY = 5115005


def lock_database(session: Session, owner: str) -> None:
    """Take the merge lock of ``owner`` (a delivery id, or a force-complete label) before any read.

    PostgreSQL: a transaction-scoped advisory lock keyed on the delivery id, so a second process
    merging the same delivery waits until the first commits, then finds it merged (instead of
    merging it again and failing on the unique delivery id). Different deliveries do not wait for
    each other here (two ids may share a hash: they then merely wait). SQLite: the first write
    serialises every merger.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:key, hashtext(:delivery_id))"),
            {"key": DELIVERY_LOCK_KEY, "delivery_id": owner},
        )
    elif dialect == "sqlite":
        # A write as the first statement makes SQLite take its RESERVED lock now, so a second
        # merger waits here (busy timeout) instead of failing later on a stale snapshot.
        res = session.execute(
            update(M.HalfpipeLock).where(M.HalfpipeLock.name == "merge").values(owner=owner)
        )
        if res.rowcount == 0:
            session.add(M.HalfpipeLock(name="merge", owner=owner))
            session.flush()


def lock_run(session: Session, run_id: int, owner: str) -> M.HalfpipeRun:
    """Return the run's row, locked for this transaction (created if new).

    PostgreSQL: a transaction-scoped advisory lock on the run id (covers the insert of a new run)
    and ``SELECT … FOR UPDATE`` of its row; SQLite: already serialised by :func:`lock_database`.
    Either way two mergers never work on the same run at once, and a run is never retired by
    one delivery while another is merging it.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:key, :k)"),
            {"key": RUN_LOCK_KEY, "k": int(run_id % (1 << 31))},
        )
    row = session.scalar(select(M.HalfpipeRun).where(M.HalfpipeRun.run_id == run_id).with_for_update())
    if row is None:
        row = M.HalfpipeRun(run_id=run_id, status=M.OPEN, reason="")
        session.add(row)
        session.flush()
    row.lock_owner = owner
    return row
