"""The driver: task-run bookkeeping, orphan recovery, retries and submission to an executor.

For each ``(key, params)`` item a ``pipeline_run`` row is created once (state ``queued``, with
its parameters as JSON and the processing date its products will carry). Task runs already
final (``done``, ``failed`` on bad input, ``cancelled``) are skipped. Each try is a
``pipeline_attempt`` row (state, number, host, pid, batch id, exit code, log path, outputs,
submission/start/end times, queue wait). Attempts left ``queued``/``running`` by a driver that no
longer exists (killed) are settled when the next driver starts (:func:`recover_orphans`:
recorded ``done`` when their worker finished them and the outputs' checksums hold, else
``crashed``; temporary files of dead attempts removed); crashes are retried up to the task's
``max_attempts`` (counted from the latest re-run, :func:`.rerun.attempt_base`).
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from sqlalchemy import select

from fermi_core.db import session_scope
from fermi_core.engine.lock import pid_alive
from fermi_core.engine.models import Task, TaskAttempt, TaskRun, utcnow
from fermi_core.engine.recovery import clean_dead_attempts, reconciled_outputs
from fermi_core.engine.registry import TaskSpec, get_task
from fermi_core.engine.rerun import attempt_base
from fermi_core.engine.states import FINAL, State
from fermi_core.engine.worker import EXIT_BAD_INPUT, EXIT_OK, run_attempt
from fermi_core.site import Site

log = logging.getLogger(__name__)

__all__ = [
    "Executor", "Job", "Summary", "outputs_of", "process", "processing_date", "recover_orphans", "run_jobs",
    "states_of",
]  # fmt: skip


class Executor(Protocol):
    """What the driver needs of an executor (:mod:`fermi_core.engine.executors`)."""

    name: str

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future: ...

    def batch_id(self, future: Future) -> str | None: ...


def processing_date(now: datetime | None = None) -> str:
    """``DATE`` of new task runs' products: UTC ``YYYY-MM-DDThh:mm:ss`` of ``now`` (default: now)."""
    now = now or datetime.now(timezone.utc)
    return now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


@dataclass
class Summary:
    """Counts of what a driver pass over one task did."""

    done: int = 0
    failed: int = 0
    crashed: int = 0
    skipped: int = 0

    def add(self, other: Summary) -> None:
        """Accumulate the counts of ``other``."""
        self.done += other.done
        self.failed += other.failed
        self.crashed += other.crashed
        self.skipped += other.skipped


def recover_orphans(db_url: str | None, site: Site | None = None) -> int:
    """Settle the attempts of dead drivers; return how many were found.

    An attempt left ``queued``/``running`` by a driver that no longer exists is recorded
    ``done`` when its worker finished it (its result file and the checksums of its outputs hold:
    :func:`.recovery.reconciled_outputs`), else ``crashed`` (retried); its task run follows. With
    ``site`` the temporary files of dead attempts are removed too
    (:func:`.recovery.clean_dead_attempts`).
    """
    n = 0
    dead_since: datetime | None = None
    with session_scope(db_url) as s:
        in_flight = s.scalars(
            select(TaskAttempt).where(TaskAttempt.state.in_((State.QUEUED.value, State.RUNNING.value)))
        ).all()
        alive = set()
        for attempt in in_flight:
            if pid_alive(attempt.driver_host, attempt.driver_pid):
                alive.add(attempt.id)
                continue
            n += 1
            began = _utc(attempt.started_at or attempt.submitted_at)
            dead_since = began if dead_since is None else min(dead_since, began)
            outputs = None if site is None else reconciled_outputs(site, attempt.id, attempt.log_path)
            now = utcnow()
            run = attempt.run
            if outputs is not None:
                attempt.state, attempt.exit_code, attempt.ended_at = State.DONE.value, EXIT_OK, now
                attempt.outputs = json.dumps(outputs)
                attempt.error = (
                    "recorded after its driver died: the worker's outputs and their checksums hold"
                )
                log.warning("attempt %s of %s/%s: finished by its worker, recorded now", attempt.id,
                            run.task.name, run.key)  # fmt: skip
            else:
                attempt.state, attempt.ended_at = State.CRASHED.value, now
                attempt.error = "driver died while the attempt was in flight"
            if run.state in (State.QUEUED.value, State.RUNNING.value):
                run.state, run.updated_at = attempt.state, now
    if site is not None:
        clean_dead_attempts(site, alive, dead_since)
    return n


def _utc(t: datetime) -> datetime:
    """An aware UTC time (SQLite gives stored UTC times back naive)."""
    return t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)


def _ensure_runs(
    db_url: str, spec: TaskSpec, items: Sequence[tuple[str, Any]], max_attempts: int, date: str | None
) -> list[int]:
    with session_scope(db_url) as s:
        task = s.scalars(select(Task).where(Task.name == spec.name)).one_or_none()
        if task is None:
            task = Task(name=spec.name, max_attempts=max_attempts)
            s.add(task)
            s.flush()
        ids = []
        for key, params in items:
            run = s.scalars(
                select(TaskRun).where(TaskRun.task_pk == task.id, TaskRun.key == key)
            ).one_or_none()
            if run is None:
                run = TaskRun(task_pk=task.id, key=key, params=spec.dump(params),
                              processing_date=date or processing_date(), state=State.QUEUED.value)  # fmt: skip
                s.add(run)
                s.flush()
            ids.append(run.id)
    return ids


@dataclass
class Job:
    """Task runs of one task for :func:`run_jobs`, and what follows once every one of them is final.

    Attributes
    ----------
    task
        A registered task (:func:`.registry.get_task`).
    items
        Keys and parameter dataclasses (as for :func:`process`).
    date
        Processing date of task runs created now (default: the current time).
    dates
        Processing dates of some keys, overriding ``date``.
    priority
        Task runs waiting for a free slot go in ascending ``priority`` (any comparable value),
        then in the order they were added.
    then
        Called with ``{key: state}`` once every task run of ``items`` is final; returns the jobs
        that may start now (the next task of a chain).
    """

    task: str
    items: Sequence[tuple[str, Any]]
    date: str | None = None
    dates: Mapping[str, str] | None = None
    priority: Any = 0
    then: Callable[[dict[str, str]], Sequence[Job]] | None = None


@dataclass
class _Active:
    """A job being worked on: its task runs not final yet and the final states of the others."""

    job: Job
    spec: TaskSpec
    keys: dict[int, str]
    left: set[int]
    states: dict[str, str] = field(default_factory=dict)


def process(
    site: Site,
    task: str,
    items: Sequence[tuple[str, Any]],
    executor: Executor,
    *,
    max_attempts: int = 3,
    progress: Callable[[int, int], None] | None = None,
    date: str | None = None,
) -> Summary:
    """Bring every task run of ``items`` (``(key, params)``) of ``task`` to a final state, retrying crashes.

    Parameters
    ----------
    site
        Data home (attempt logs under :attr:`~fermi_core.site.Site.logs`) and database.
    task
        A registered task (:func:`.registry.get_task`).
    items
        Keys and parameter dataclasses; the parameters are stored when a task run is first
        created, and an existing task run keeps its stored ones.
    executor
        Where attempts run.
    max_attempts
        Attempt budget of the task when it is first recorded.
    progress
        ``progress(finished, total)`` after each task run reaches a final state.
    date
        Processing date of task runs created now (default: the current time); existing ones
        keep theirs.

    Returns
    -------
    Summary
        How many ended done, failed, were retried after a crash, or were already final.
    """
    report = (lambda _task, done, total: progress(done, total)) if progress else None
    summaries = run_jobs(
        site, [Job(task, items, date=date)], executor, max_attempts=max_attempts, progress=report
    )
    return summaries.get(task, Summary())


def run_jobs(
    site: Site,
    jobs: Sequence[Job],
    executor: Executor,
    *,
    max_attempts: int = 3,
    slots: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Summary]:
    """Bring the task runs of ``jobs`` and of the jobs their ``then`` returns to a final state.

    One driver loop for several tasks: a job's follow-up jobs start as soon as its own task runs
    are final, while other jobs still run (no barrier between the tasks of different subjects).
    Every attempt is recorded as by :func:`process`, crashes are retried within the task's budget.

    Parameters
    ----------
    site, executor, max_attempts
        As for :func:`process`.
    jobs
        The jobs that may start now.
    slots
        Attempts kept in flight at most (None: all that are ready): task runs waiting for a
        slot are submitted by :attr:`Job.priority`, so a ready task of high priority never
        queues behind many of low priority in the executor.
    progress
        ``progress(task, finished, total)`` after each task run of ``task`` reaches a final state
        (``total`` grows as follow-up jobs are added).

    Returns
    -------
    dict[str, Summary]
        What was done, per task.
    """
    db_url = site.db_url
    recover_orphans(db_url, site)
    summaries: dict[str, Summary] = {}
    totals: dict[str, int] = {}
    finished: dict[str, int] = {}
    waiting: list[tuple[Any, int, int, bool, _Active]] = []  # (priority, order, run id, is a retry, job)
    order = itertools.count()
    pending: dict[Future, tuple[int, int, _Active]] = {}

    def report(task: str) -> None:
        if progress:
            progress(task, finished.get(task, 0), totals.get(task, 0))

    def admit(job: Job) -> None:
        spec = get_task(job.task)
        groups: dict[str | None, list[tuple[str, Any]]] = {}
        for key, params in job.items:
            groups.setdefault((job.dates or {}).get(key, job.date), []).append((key, params))
        keys: dict[int, str] = {}
        for when, group in groups.items():
            ids = _ensure_runs(db_url, spec, group, max_attempts, when)
            keys.update({run_id: key for run_id, (key, _) in zip(ids, group, strict=True)})
        act = _Active(job, spec, keys, set(keys))
        if keys:
            summaries.setdefault(spec.name, Summary())
        totals[spec.name] = totals.get(spec.name, 0) + len(keys)
        for run_id in keys:
            heapq.heappush(waiting, (job.priority, next(order), run_id, False, act))
        if not keys:
            settled(act)
        report(spec.name)

    def settled(act: _Active) -> None:
        if not act.left and act.job.then is not None:
            for follow in act.job.then(dict(act.states)):
                admit(follow)

    def final(act: _Active, run_id: int, state: str) -> None:
        act.left.discard(run_id)
        act.states[act.keys[run_id]] = state
        finished[act.spec.name] = finished.get(act.spec.name, 0) + 1
        report(act.spec.name)
        settled(act)

    def submit(entries: list[tuple[int, bool, _Active]]) -> None:
        """Record an attempt of each task run of ``entries`` not final yet (one transaction), then submit them.

        The rows are committed before any submission: a worker starts only on an attempt the
        database holds. A task run final already, or out of attempts, is settled instead.
        """
        ready, skipped = [], []
        with session_scope(db_url) as s:
            for run_id, retry, act in entries:
                spec = act.spec
                run = s.get(TaskRun, run_id)
                if run.state in FINAL:
                    skipped.append((run_id, retry, act, run.state))
                    continue
                number = len(run.attempts) + 1
                if number - attempt_base(s, run.id) > run.task.max_attempts:  # a re-run restarts the budget
                    run.state = State.FAILED.value
                    skipped.append((run_id, retry, act, run.state))
                    continue
                log = site.logs / f"{spec.name}-{run.key}.attempt{number}.log"
                attempt = TaskAttempt(run_pk=run.id, number=number, state=State.QUEUED.value,
                                      executor=executor.name, driver_host=socket.gethostname(),
                                      driver_pid=os.getpid(), log_path=site.relative(log))  # fmt: skip
                s.add(attempt)
                run.state, run.updated_at = State.RUNNING.value, utcnow()
                s.flush()
                args = (attempt.id, site, str(log), spec.name, run.params, run.key, run.processing_date)
                ready.append((run_id, attempt.id, act, args, retry))
        for run_id, attempt_id, act, args, retry in ready:
            pending[executor.submit(run_attempt, *args)] = (run_id, attempt_id, act)
            if retry:
                summaries[act.spec.name].crashed += 1
        for run_id, retry, act, state in skipped:
            summary = summaries[act.spec.name]
            if retry:  # out of attempts after a crash
                summary.failed += 1
            else:
                summary.skipped += 1
            final(act, run_id, state)

    def fill() -> None:
        while waiting and (slots is None or len(pending) < slots):
            free = len(waiting) if slots is None else slots - len(pending)
            entries = [heapq.heappop(waiting)[2:] for _ in range(min(free, len(waiting)))]
            submit(entries)

    for job in jobs:
        admit(job)
    fill()
    while pending:
        done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
        # every attempt finished at this point is recorded in one transaction (each worker also
        # left its result file, from which the next driver records it if this one dies first)
        ended: list[tuple[int, State, _Active]] = []
        with session_scope(db_url) as s:
            for future in done:
                run_id, attempt_id, act = pending.pop(future)
                try:
                    outcome = future.result()
                except Exception as exc:  # the worker process itself died
                    outcome = {"exit_code": None, "error": f"{type(exc).__name__}: {exc}"}
                code = outcome.get("exit_code")
                state = (
                    State.DONE
                    if code == EXIT_OK
                    else State.FAILED
                    if code == EXIT_BAD_INPUT
                    else State.CRASHED
                )
                attempt = s.get(TaskAttempt, attempt_id)
                attempt.exit_code, attempt.ended_at = code, utcnow()
                attempt.error = outcome.get("error")
                if state is State.DONE:
                    attempt.outputs = json.dumps(outcome.get("outputs", []))
                attempt.batch_id = attempt.batch_id or executor.batch_id(future)  # the worker's batch job
                if attempt.started_at is not None:
                    attempt.queue_wait = (attempt.started_at - attempt.submitted_at).total_seconds()
                attempt.state = attempt.run.state = state.value
                attempt.run.updated_at = utcnow()
                ended.append((run_id, state, act))
        for run_id, state, act in ended:
            if state is State.CRASHED:  # retried first, within the task's budget
                heapq.heappush(waiting, (act.job.priority, -next(order), run_id, True, act))
                continue
            summary = summaries[act.spec.name]
            if state is State.DONE:
                summary.done += 1
            else:
                summary.failed += 1
            final(act, run_id, state.value)
        fill()
    return summaries


def states_of(db_url: str | None, task: str, keys: Sequence[str]) -> dict[str, str]:
    """``{key: state}`` of the task runs of ``task`` among ``keys`` (keys never submitted are absent)."""
    with session_scope(db_url) as s:
        rows = s.execute(
            select(TaskRun.key, TaskRun.state)
            .join(Task, TaskRun.task_pk == Task.id)
            .where(Task.name == task, TaskRun.key.in_(list(keys)))
        ).all()
    return dict(rows)


def outputs_of(db_url: str | None, task: str, key: str) -> list[str] | None:
    """What the latest successful attempt of the task run ``task``/``key`` returned.

    None when the task run does not exist, is not done, or its attempt predates the recording
    of outputs.
    """
    with session_scope(db_url) as s:
        raw = s.scalar(
            select(TaskAttempt.outputs)
            .join(TaskRun, TaskAttempt.run_pk == TaskRun.id)
            .join(Task, TaskRun.task_pk == Task.id)
            .where(Task.name == task, TaskRun.key == key, TaskRun.state == State.DONE.value,
                   TaskAttempt.state == State.DONE.value)
            .order_by(TaskAttempt.number.desc())
            .limit(1)
        )  # fmt: skip
    return None if raw is None else list(json.loads(raw))
