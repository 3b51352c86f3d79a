"""Queries over the task engine's tables (:mod:`fermi_core.engine`) and the data catalog.

The engine keeps tasks (a kind of work, e.g. ``l1run``), task runs (one unit of work of a task,
keyed e.g. ``r0600000000`` for LAT run 600000000) and attempts (one try of a task run). isoc
names a task run ``<task>/<key>`` and treats the task as its single step. Only this module knows
that layout; if the tables are absent the functions return nothing and
:func:`pipeline_available` says so, so the page still shows the deliveries. State names are the
engine's (:data:`fermi_core.engine.STATE_NAMES`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from fermi_core.engine.models import RerunRequest, Task, TaskAttempt, TaskRun
from fermi_core.engine.rerun import requests_for
from fermi_core.engine.states import FAILED_TRIES, STATE_NAMES, State
from fermi_core.site import run_folder
from fermi_isoc.queries.ingest import _utc
from fermi_isoc.queries.pages import Page, clamp
from fermi_isoc.queries.tables import has_tables

#: a task-run key of a LAT run: ``r<run>`` (run input, L1 products) or ``r<run>.<crumb>`` (recon)
_LAT_RUN = re.compile(r"^r(\d{1,10})(?:\.|$)")
#: task-run states that end a run: its failed attempts no longer need anyone
_SETTLED = (State.DONE.value, State.CANCELLED.value)
_FAILED_TRIES = tuple(s.value for s in FAILED_TRIES)


#: Task-run and attempt states, as the engine defines them (re-exported for the page).
STATES = STATE_NAMES


@dataclass(frozen=True)
class AttemptInfo:
    """One try of one step of a task run."""

    step: str
    attempt: int
    state: str
    exit_code: int | None
    host: str
    batch_id: str
    log_path: str
    started_at: datetime | None
    ended_at: datetime | None
    error: str = ""

    @property
    def duration_s(self) -> float | None:
        """Wall time of the attempt, seconds (None while it runs)."""
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class RunInfo:
    """One task run with the state counts of its steps (the latest attempt of each)."""

    key: str
    task: str
    run_id: int | None
    state: str
    delivery_id: str
    created_at: datetime | None
    updated_at: datetime | None
    step_states: dict[str, int]
    n_attempts: int
    n_failed_attempts: int


@dataclass(frozen=True)
class ProductInfo:
    """A catalogued product of a run."""

    data_type: str
    logical_path: str
    version: int
    file_path: str
    checksum: str


def pipeline_available(session: Session) -> bool:
    """True when the task engine's tables exist in the database."""
    return has_tables(session, Task.__tablename__, TaskRun.__tablename__, TaskAttempt.__tablename__)


def lat_run_id(key: str) -> int | None:
    """The LAT run id of a task-run key ``r<run id>`` or ``r<run id>.<crumb>``, else None."""
    m = _LAT_RUN.match(key)
    return int(m.group(1)) if m else None


def _attempt(a: TaskAttempt, task: str) -> AttemptInfo:
    return AttemptInfo(
        step=task, attempt=a.number, state=a.state, exit_code=a.exit_code, host=a.host or "",
        batch_id=a.batch_id or "", log_path=a.log_path or "", started_at=_utc(a.started_at),
        ended_at=_utc(a.ended_at), error=a.error or "",
    )  # fmt: skip


def _attempt_rows(
    session: Session, run_pks: list[int], tasks: dict[int, str]
) -> dict[int, list[AttemptInfo]]:
    out: dict[int, list[AttemptInfo]] = {pk: [] for pk in run_pks}
    if not run_pks:
        return out
    rows = session.scalars(
        select(TaskAttempt)
        .where(TaskAttempt.run_pk.in_(run_pks))
        .order_by(TaskAttempt.run_pk, TaskAttempt.number)
    )
    for a in rows:
        out[a.run_pk].append(_attempt(a, tasks[a.run_pk]))
    return out


def _run_info(run: TaskRun, task: str, attempts: list[AttemptInfo]) -> RunInfo:
    latest: dict[str, AttemptInfo] = {}
    for att in attempts:
        if att.step not in latest or att.attempt > latest[att.step].attempt:
            latest[att.step] = att
    return RunInfo(
        key=f"{task}/{run.key}",
        task=task,
        run_id=lat_run_id(run.key),
        state=run.state,
        delivery_id="",
        created_at=_utc(run.created_at),
        updated_at=_utc(run.updated_at),
        step_states=dict(Counter(a.state for a in latest.values())),
        n_attempts=len(attempts),
        n_failed_attempts=sum(a.state in FAILED_TRIES for a in attempts),
    )


def _infos(session: Session, rows: list[tuple[TaskRun, str]]) -> list[RunInfo]:
    tasks = {r.id: t for r, t in rows}
    attempts = _attempt_rows(session, list(tasks), tasks)
    return [_run_info(r, t, attempts[r.id]) for r, t in rows]


def _select_runs():
    return select(TaskRun, Task.name).join(Task, Task.id == TaskRun.task_pk)


def _where(query, state: str | None, task: str | None):
    """``query`` (over task runs) restricted to ``state`` and to the task named ``task``."""
    if state:
        query = query.where(TaskRun.state == state)
    if task:
        query = query.where(TaskRun.task_pk == select(Task.id).where(Task.name == task).scalar_subquery())
    return query


def runs(
    session: Session,
    state: str | None = None,
    limit: int | None = 500,
    offset: int = 0,
    *,
    task: str | None = None,
) -> list[RunInfo]:
    """Task runs, newest first, optionally only those in ``state`` (or of ``task``).

    ``limit=None`` lists them all; use :func:`runs_page` for a page with its total.
    """
    if not pipeline_available(session):
        return []
    query = _where(_select_runs(), state, task).order_by(TaskRun.id.desc())
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return _infos(session, [tuple(r) for r in session.execute(query).all()])


def count_runs(session: Session, state: str | None = None, *, task: str | None = None) -> int:
    """How many task runs there are (in ``state``, of ``task``), counted by the database."""
    if not pipeline_available(session):
        return 0
    return int(session.scalar(_where(select(func.count(TaskRun.id)), state, task)) or 0)


def runs_page(
    session: Session,
    state: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    *,
    task: str | None = None,
) -> Page[RunInfo]:
    """One page of :func:`runs` (default 50 rows) with the total count of the listing."""
    limit, offset = clamp(limit, offset)
    return Page(
        runs(session, state, limit, offset, task=task), count_runs(session, state, task=task), limit, offset
    )


def _by_key(session: Session, key: str) -> tuple[TaskRun, str] | None:
    if not pipeline_available(session) or "/" not in key:
        return None
    task, _, run_key = key.partition("/")
    row = session.execute(_select_runs().where(Task.name == task, TaskRun.key == run_key)).first()
    return None if row is None else tuple(row)


def run_by_key(session: Session, key: str) -> RunInfo | None:
    """One task run by its ``<task>/<key>`` name, or None."""
    row = _by_key(session, key)
    return None if row is None else _infos(session, [row])[0]


def attempts_of(session: Session, key: str) -> list[AttemptInfo]:
    """Every attempt of a task run, by attempt number."""
    row = _by_key(session, key)
    if row is None:
        return []
    run, task = row
    return _attempt_rows(session, [run.id], {run.id: task})[run.id]


def lat_run_clause(lat_run_ids: list[int | None]):
    """SQL condition: the task run belongs to one of the LAT runs (its key or a crumb of it)."""
    keys = sorted({run_folder(int(r)) for r in lat_run_ids if r is not None})
    if not keys:
        return TaskRun.id.is_(None)  # matches nothing
    return or_(TaskRun.key.in_(keys), *(TaskRun.key.like(f"{k}.%") for k in keys))


def runs_of_delivery(session: Session, delivery_id: str, lat_run_ids: list[int]) -> list[RunInfo]:
    """Task runs fed by a delivery: those processing a LAT run its chunks carry."""
    if not pipeline_available(session):
        return []
    query = _select_runs().where(lat_run_clause(lat_run_ids)).order_by(TaskRun.created_at, TaskRun.id)
    return _infos(session, [tuple(r) for r in session.execute(query).all()])


def products_of(session: Session, lat_run_id: int | None) -> list[ProductInfo]:
    """Catalogued products (FT1, FT2, ...) of a LAT run; empty when the catalog is absent."""
    if lat_run_id is None:
        return []
    try:
        from fermi_l1.catalog.models import Dataset
    except ImportError:  # the catalog is not installed or not yet published
        return []
    if not has_tables(session, Dataset.__tablename__):
        return []
    rows = session.scalars(select(Dataset).where(Dataset.run == lat_run_id).order_by(Dataset.data_type))
    return [ProductInfo(d.data_type, d.logical_path, d.version, d.file_path, d.checksum) for d in rows]


def state_counts(session: Session, *, task: str | None = None) -> dict[str, int]:
    """Number of task runs in each state over ALL runs (one SQL aggregate), every known state listed."""
    counts = dict.fromkeys(STATES, 0)
    if not pipeline_available(session):
        return counts
    query = _where(select(TaskRun.state, func.count(TaskRun.id)), None, task).group_by(TaskRun.state)
    for state, n in session.execute(query):
        counts[state] = counts.get(state, 0) + int(n)
    return counts


@dataclass(frozen=True)
class FailedRun:
    """A task run not done (nor cancelled) with failed or crashed attempts, as the alarm sees it."""

    key: str
    state: str
    n_attempts: int
    n_failed_attempts: int


def failed_runs(session: Session) -> list[FailedRun]:
    """Every task run not done nor cancelled with a failed or crashed attempt (one SQL aggregate), by key."""
    if not pipeline_available(session):
        return []
    n_failed = func.sum(case((TaskAttempt.state.in_(_FAILED_TRIES), 1), else_=0))
    query = (
        select(Task.name, TaskRun.key, TaskRun.state, func.count(TaskAttempt.id), n_failed)
        .join(Task, Task.id == TaskRun.task_pk)
        .join(TaskAttempt, TaskAttempt.run_pk == TaskRun.id)
        .where(TaskRun.state.not_in(_SETTLED))
        .group_by(TaskRun.id, Task.name, TaskRun.key, TaskRun.state)
        .having(n_failed > 0)
        .order_by(Task.name, TaskRun.key)
    )
    return [
        FailedRun(f"{task}/{key}", state, int(n), int(nf))
        for task, key, state, n, nf in session.execute(query)
    ]


def now_utc() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class RerunInfo:
    """A re-run request (:mod:`fermi_core.engine.rerun`) as the page shows it."""

    id: int
    run: str
    step: str | None
    requested_by: str
    reason: str
    origin: str
    state: str
    requested_at: datetime | None
    done_at: datetime | None
    attempt_ids: list[int]
    outcome: str


def rerun_requests(session: Session, key: str) -> list[RerunInfo]:
    """Re-run requests naming the task run ``<task>/<key>`` (or its LAT run) or covering it, newest first."""
    if not has_tables(session, RerunRequest.__tablename__):
        return []
    row = _by_key(session, key)
    if row is None:
        return []
    run, _task = row
    found = {r.id: r for r in requests_for(session, run=key, run_pk=run.id)}
    lat = run.key.partition(".")[0]
    if _LAT_RUN.match(lat):
        found.update({r.id: r for r in requests_for(session, run=lat)})
    return [
        RerunInfo(
            r.id,
            r.run,
            r.step,
            r.requested_by,
            r.reason,
            r.origin,
            r.state,
            _utc(r.requested_at),
            _utc(r.done_at),
            json.loads(r.attempt_ids or "[]"),
            r.outcome,
        )
        for r in sorted(found.values(), key=lambda r: -r.id)
    ]
