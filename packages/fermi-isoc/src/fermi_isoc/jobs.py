"""Scheduled isoc jobs: single instance, a timeout, and a record of the last success.

Each job (``alarms``, ``retention``, ``report``) runs inside :func:`job_run`, which claims the
job's ``isoc_job`` row with an atomic update: a second instance refuses to start while the first
runs, unless the first is past its timeout or (on the same host) its process is gone. The end
records the last success, or the last failure with its error. The ``job_overdue_periods`` alarm
quantity reads these rows: the watchdog of stale or runaway jobs.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from fermi_isoc.db import isoc_session
from fermi_isoc.models import JobRecord


@dataclass(frozen=True)
class JobSpec:
    """How often a job is expected to succeed and how long one run may take."""

    period: timedelta
    timeout: timedelta


#: the isoc jobs: alarms every few minutes from cron, retention daily, the report weekly
JOBS: dict[str, JobSpec] = {
    "alarms": JobSpec(timedelta(hours=1), timedelta(minutes=30)),
    "retention": JobSpec(timedelta(days=1), timedelta(hours=6)),
    "report": JobSpec(timedelta(days=7), timedelta(hours=2)),
}


class JobBusy(RuntimeError):
    """Another instance of the job is running."""


def _utc(t: datetime | None) -> datetime | None:
    """Aware UTC (SQLite returns stored UTC times naive; PostgreSQL aware ones, kept as they are)."""
    return t if t is None or t.tzinfo is not None else t.replace(tzinfo=timezone.utc)


def _dead(owner: str) -> bool:
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # cannot tell from here: the timeout decides
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _claim(url: str | None, name: str, spec: JobSpec, me: str, now: datetime) -> None:
    with isoc_session(url) as s:
        if s.get(JobRecord, name) is None:
            try:
                with s.begin_nested():
                    s.add(JobRecord(name=name, period_s=spec.period.total_seconds(), owner="", last_error=""))
            except IntegrityError:
                pass  # another instance created it at the same time
    with isoc_session(url) as s:
        row = s.get(JobRecord, name)
        stale = row.owner and _dead(row.owner)
        free = or_(JobRecord.owner == "", JobRecord.started_at < now - spec.timeout)
        if stale:
            free = or_(free, JobRecord.owner == row.owner)
        claimed = s.execute(
            update(JobRecord)
            .where(JobRecord.name == name, free)
            .values(owner=me, started_at=now, period_s=spec.period.total_seconds())
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed != 1:
            s.refresh(row)
            since = _utc(row.started_at)
            raise JobBusy(
                f"job {name} is already running ({row.owner}, since {since:%Y-%m-%d %H:%M:%S} UTC; "
                f"timeout {spec.timeout})"
            )


def _release(url: str | None, name: str, me: str, error: str | None) -> None:
    now = datetime.now(timezone.utc)
    values = {"owner": ""}
    if error is None:
        values["last_success"] = now
    else:
        values.update(last_failure=now, last_error=error[:2000])
    with isoc_session(url) as s:
        s.execute(update(JobRecord).where(JobRecord.name == name, JobRecord.owner == me).values(**values))


@dataclass
class JobHandle:
    """The running job: set ``error`` to record the run as a failure without raising."""

    name: str
    error: str | None = None


@contextmanager
def job_run(name: str, url: str | None = None, now: datetime | None = None) -> Iterator[JobHandle]:
    """Run the block as job ``name``: refused (:class:`JobBusy`) when another instance runs.

    The block's normal end is the job's success unless it set ``handle.error``; an exception is
    its failure (recorded, re-raised).
    """
    spec = JOBS[name]
    me = f"{socket.gethostname()}:{os.getpid()}"
    _claim(url, name, spec, me, now or datetime.now(timezone.utc))
    handle = JobHandle(name)
    try:
        yield handle
    except BaseException as exc:
        _release(url, name, me, f"{type(exc).__name__}: {exc}")
        raise
    _release(url, name, me, handle.error)


@dataclass(frozen=True)
class JobInfo:
    """The record of one job as the page and the alarms show it."""

    name: str
    period_s: float
    owner: str
    started_at: datetime | None
    last_success: datetime | None
    last_failure: datetime | None
    last_error: str


def job_records(session) -> list[JobInfo]:
    """Every job that ever started, by name."""
    return [
        JobInfo(
            r.name,
            r.period_s,
            r.owner,
            _utc(r.started_at),
            _utc(r.last_success),
            _utc(r.last_failure),
            r.last_error,
        )
        for r in session.scalars(select(JobRecord).order_by(JobRecord.name))
    ]
