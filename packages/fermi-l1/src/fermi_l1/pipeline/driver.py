"""The pipeline driver: run-state bookkeeping, retries and submission to an executor.

For each run input folder a ``pipeline_run`` row is created once (state ``queued``, with the
processing date its products will carry). Runs already ``done`` (or ``failed`` on bad input,
or ``cancelled``) are skipped. Each try is a ``pipeline_attempt`` row (state, number, host, pid,
batch id, exit code, log path, submission/start/end times, queue wait). Attempts left
``queued``/``running`` by a driver that no longer exists (killed) are marked ``crashed`` when the
next driver starts; crashes are retried up to the task's ``max_attempts``.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from fermi_l1.db import session
from fermi_l1.fitsdate import processing_date
from fermi_l1.pipeline.models import PipelineAttempt, PipelineRun, PipelineTask, utcnow
from fermi_l1.pipeline.rerun import attempt_base
from fermi_l1.pipeline.worker import EXIT_BAD_INPUT, EXIT_OK, run_attempt

TASK = "l1run"
FINAL = ("done", "failed", "cancelled")


def _alive(host: str, pid: int) -> bool:
    if host != socket.gethostname():
        return True  # cannot tell from here: leave it to the late/cancel tooling
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Summary:
    """Counts of what a driver pass did."""

    done: int = 0
    failed: int = 0
    crashed: int = 0
    skipped: int = 0


def recover_orphans(db_url: str) -> int:
    """Mark attempts of dead drivers as ``crashed`` (and their runs queued again); return how many."""
    n = 0
    with session(db_url) as s:
        stale = s.scalars(select(PipelineAttempt).where(PipelineAttempt.state.in_(("queued", "running"))))
        for attempt in stale:
            if not _alive(attempt.driver_host, attempt.driver_pid):
                attempt.state, attempt.ended_at = "crashed", utcnow()
                attempt.error = "driver died while the attempt was in flight"
                attempt.run.state = "crashed"
                n += 1
    return n


def _ensure_runs(
    db_url: str, items: Sequence[tuple[str, dict]], max_attempts: int, date: str | None, task_name: str = TASK
) -> list[int]:
    with session(db_url) as s:
        task = s.scalars(select(PipelineTask).where(PipelineTask.name == task_name)).one_or_none()
        if task is None:
            task = PipelineTask(name=task_name, max_attempts=max_attempts)
            s.add(task)
            s.flush()
        ids = []
        for key, params in items:
            run = s.scalars(
                select(PipelineRun).where(PipelineRun.task_pk == task.id, PipelineRun.key == key)
            ).one_or_none()
            if run is None:
                run = PipelineRun(task_pk=task.id, key=key, params=json.dumps(params, sort_keys=True),
                                  processing_date=date or processing_date(), state="queued")  # fmt: skip
                s.add(run)
                s.flush()
            ids.append(run.id)
    return ids


def process(
    db_url: str,
    items: Sequence[tuple[str, dict]],
    executor,
    *,
    log_dir: str | os.PathLike[str],
    max_attempts: int = 3,
    progress: Callable[[int, int], None] | None = None,
    date: str | None = None,
    task: str = TASK,
) -> Summary:
    """Bring every run of ``items`` (``(key, params)``) of ``task`` to a final state, retrying crashes.

    ``params`` are the keyword arguments of the task's function (:data:`.worker.TASKS`) except
    ``db_url`` and, for ``l1run``, ``date`` (the run's processing date), which are added here.
    ``date`` fixes the processing date of runs created now (default: the current time); existing
    runs keep theirs.
    """
    recover_orphans(db_url)
    run_ids = _ensure_runs(db_url, items, max_attempts, date, task)
    summary = Summary()
    pending: dict = {}
    total = len(run_ids)
    finished = 0

    def submit(run_id: int) -> bool:
        with session(db_url) as s:
            run = s.get(PipelineRun, run_id)
            if run.state in FINAL:
                return False
            number = len(run.attempts) + 1
            if number - attempt_base(s, run.id) > run.task.max_attempts:  # a re-run restarts the budget
                run.state = "failed"
                return False
            log = Path(log_dir) / (
                f"{run.key}.attempt{number}.log" if task == TASK else f"{task}-{run.key}.attempt{number}.log"
            )
            attempt = PipelineAttempt(run_pk=run.id, number=number, state="queued", executor=executor.name,
                                      driver_host=socket.gethostname(), driver_pid=os.getpid(),
                                      log_path=str(log))  # fmt: skip
            s.add(attempt)
            run.state, run.updated_at = "running", utcnow()
            s.flush()
            params = json.loads(run.params)
            if task == TASK:
                params["date"] = run.processing_date
            attempt_id = attempt.id
        future = executor.submit(run_attempt, attempt_id, db_url, str(log), params, task)
        pending[future] = (run_id, attempt_id)
        return True

    for run_id in run_ids:
        if not submit(run_id):
            summary.skipped += 1
            finished += 1
    if progress:
        progress(finished, total)
    while pending:
        ready, _ = wait(list(pending), return_when=FIRST_COMPLETED)
        for future in ready:
            run_id, attempt_id = pending.pop(future)
            try:
                outcome = future.result()
            except Exception as exc:  # the worker process itself died
                outcome = {"exit_code": None, "error": f"{type(exc).__name__}: {exc}"}
            code = outcome.get("exit_code")
            with session(db_url) as s:
                attempt = s.get(PipelineAttempt, attempt_id)
                attempt.exit_code, attempt.ended_at = code, utcnow()
                attempt.error = outcome.get("error")
                attempt.batch_id = executor.batch_id(future)
                if attempt.started_at is not None:
                    attempt.queue_wait = (attempt.started_at - attempt.submitted_at).total_seconds()
                state = "done" if code == EXIT_OK else "failed" if code == EXIT_BAD_INPUT else "crashed"
                attempt.state = attempt.run.state = state
                attempt.run.updated_at = utcnow()
            if state == "crashed" and submit(run_id):
                summary.crashed += 1
                continue
            finished += 1
            if state == "done":
                summary.done += 1
            else:
                summary.failed += 1
            if progress:
                progress(finished, total)
    return summary
