"""Queries over the pipeline driver's run-state tables (fermi-l1) and the data catalog.

fermi-l1 keeps ``pipeline_task`` (a kind of work, e.g. ``l1run``), ``pipeline_run`` (one unit of
work of a task, keyed e.g. ``r0600000000`` for LAT run 600000000) and ``pipeline_attempt`` (one
try of a run). isoc names a run ``<task>/<key>`` and treats the task as the run's single step,
so a "step" re-run and a run re-run are the same request today. Only this module knows that
layout; if the tables are absent the functions return nothing and :func:`pipeline_available`
says so, so the page still shows the deliveries.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from fermi_isoc.queries.ingest import _utc
from fermi_l1.pipeline.models import PipelineAttempt, PipelineRun, PipelineTask

_LAT_RUN = re.compile(r"^r(\d{1,10})$")


#: Run and attempt states of the pipeline driver (architecture.md, Execution).
STATES = ("queued", "running", "done", "failed", "crashed", "held", "late", "cancelled")


@dataclass(frozen=True)
class AttemptInfo:
    """One try of one step of a run."""

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
    """One pipeline run with the state counts of its steps (the latest attempt of each)."""

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
    """True when the pipeline run-state tables exist in the database."""
    names = set(inspect(session.get_bind()).get_table_names())
    return {PipelineTask.__tablename__, PipelineRun.__tablename__, PipelineAttempt.__tablename__} <= names


def lat_run_id(key: str) -> int | None:
    """The LAT run id of a run key ``r<run id>``, else None."""
    m = _LAT_RUN.match(key)
    return int(m.group(1)) if m else None


def _attempt(a: PipelineAttempt, task: str) -> AttemptInfo:
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
        select(PipelineAttempt)
        .where(PipelineAttempt.run_pk.in_(run_pks))
        .order_by(PipelineAttempt.run_pk, PipelineAttempt.number)
    )
    for a in rows:
        out[a.run_pk].append(_attempt(a, tasks[a.run_pk]))
    return out


def _run_info(run: PipelineRun, task: str, attempts: list[AttemptInfo]) -> RunInfo:
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
        n_failed_attempts=sum(a.state in ("failed", "crashed") for a in attempts),
    )


def _infos(session: Session, rows: list[tuple[PipelineRun, str]]) -> list[RunInfo]:
    tasks = {r.id: t for r, t in rows}
    attempts = _attempt_rows(session, list(tasks), tasks)
    return [_run_info(r, t, attempts[r.id]) for r, t in rows]


def _select_runs():
    return select(PipelineRun, PipelineTask.name).join(PipelineTask, PipelineTask.id == PipelineRun.task_pk)


def runs(session: Session, state: str | None = None, limit: int = 500) -> list[RunInfo]:
    """Pipeline runs, newest first, optionally only those in ``state``."""
    if not pipeline_available(session):
        return []
    query = _select_runs().order_by(PipelineRun.created_at.desc(), PipelineRun.id.desc()).limit(limit)
    if state:
        query = query.where(PipelineRun.state == state)
    return _infos(session, [tuple(r) for r in session.execute(query).all()])


def _by_key(session: Session, key: str) -> tuple[PipelineRun, str] | None:
    if not pipeline_available(session) or "/" not in key:
        return None
    task, _, run_key = key.partition("/")
    row = session.execute(_select_runs().where(PipelineTask.name == task, PipelineRun.key == run_key)).first()
    return None if row is None else tuple(row)


def run_by_key(session: Session, key: str) -> RunInfo | None:
    """One run by its ``<task>/<key>`` name, or None."""
    row = _by_key(session, key)
    return None if row is None else _infos(session, [row])[0]


def attempts_of(session: Session, key: str) -> list[AttemptInfo]:
    """Every attempt of a run, by attempt number."""
    row = _by_key(session, key)
    if row is None:
        return []
    run, task = row
    return _attempt_rows(session, [run.id], {run.id: task})[run.id]


def runs_of_delivery(session: Session, delivery_id: str, lat_run_ids: list[int]) -> list[RunInfo]:
    """Runs fed by a delivery: those processing a LAT run its chunks carry."""
    if not pipeline_available(session):
        return []
    wanted = {int(r) for r in lat_run_ids if r is not None}
    rows = [tuple(r) for r in session.execute(_select_runs().order_by(PipelineRun.created_at)).all()]
    return _infos(session, [(r, t) for r, t in rows if lat_run_id(r.key) in wanted])


def products_of(session: Session, lat_run_id: int | None) -> list[ProductInfo]:
    """Catalogued products (FT1, FT2, ...) of a LAT run; empty when the catalog is absent."""
    if lat_run_id is None:
        return []
    try:
        from fermi_l1.catalog.models import Dataset
    except ImportError:  # the catalog is not installed or not yet published
        return []
    if Dataset.__tablename__ not in set(inspect(session.get_bind()).get_table_names()):
        return []
    rows = session.scalars(select(Dataset).where(Dataset.run == lat_run_id).order_by(Dataset.data_type))
    return [ProductInfo(d.data_type, d.logical_path, d.version, d.file_path, d.checksum) for d in rows]


def state_counts(run_list: list[RunInfo]) -> dict[str, int]:
    """Number of runs in each state, every known state listed."""
    counts = Counter(r.state for r in run_list)
    return {s: counts.get(s, 0) for s in STATES}


def now_utc() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class RerunInfo:
    """A re-run request of fermi-l1 as the page shows it."""

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
    """Re-run requests naming the run ``<task>/<key>`` (or its LAT run) or covering it, newest first."""
    from fermi_l1.pipeline.models import PipelineRerunRequest
    from fermi_l1.pipeline.rerun import requests_for

    if PipelineRerunRequest.__tablename__ not in set(inspect(session.get_bind()).get_table_names()):
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
