"""What runs on the executor: one attempt of one task run, its log, and the classification of failures.

The task is looked up in the registry (:mod:`fermi_core.engine.registry`) by name, its stored
parameters are parsed into its dataclass and its function is called with stdout and stderr sent
to the attempt's log. Bad input -- a :class:`fermi_core.errors.BadInput` or one of the types the
task declares -- returns exit code 2 and is not retried; anything else is an infrastructure
failure (exit code 1) that the driver retries.

While it runs, an attempt's ``tempfile`` default is its own scratch folder
(:meth:`~fermi_core.site.Site.attempt_scratch`, removed at its end; the next driver removes
those of attempts killed mid-way), and a successful attempt leaves a result file beside its
log (:func:`.recovery.write_result`) from which the next driver records work its killed
driver never recorded.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import update

from fermi_core.db import session_scope
from fermi_core.engine.executors import batch_job_id
from fermi_core.engine.models import TaskAttempt, utcnow
from fermi_core.engine.recovery import write_result
from fermi_core.engine.registry import TaskContext, get_task
from fermi_core.engine.states import State
from fermi_core.site import Site

EXIT_OK, EXIT_CRASH, EXIT_BAD_INPUT = 0, 1, 2


def run_attempt(
    attempt_id: int, site: Site, log_path: str, task: str, params: str, key: str, processing_date: str
) -> dict[str, Any]:
    """Run one attempt of ``task`` with its stored ``params`` (JSON); return the outcome.

    Parameters
    ----------
    attempt_id
        The ``pipeline_attempt`` row, marked ``running`` here (host, pid, start time, the batch
        job of :func:`.executors.batch_job_id`); an attempt no longer ``queued`` (given up by
        the driver) is not run.
    site
        Data home and database of the driver.
    log_path
        The attempt's log (appended to).
    task, params, key, processing_date
        The task's name, the task run's stored parameters, key and processing date.

    Returns
    -------
    dict
        ``exit_code`` (:data:`EXIT_OK`, :data:`EXIT_CRASH`, :data:`EXIT_BAD_INPUT`) and either
        ``outputs`` (what the task returned) or ``error`` (``Type: message``).
    """
    batch = batch_job_id()
    with session_scope(site.db_url) as s:
        started = s.execute(
            update(TaskAttempt)
            .where(TaskAttempt.id == attempt_id, TaskAttempt.state == State.QUEUED.value)
            .values(state=State.RUNNING.value, host=socket.gethostname(), pid=os.getpid(), started_at=utcnow(),
                    batch_id=batch)
        ).rowcount  # fmt: skip
    if not started:  # the driver gave this attempt up (its worker was declared lost): never run it twice
        return {"exit_code": EXIT_CRASH, "error": f"attempt {attempt_id} was no longer queued at its start"}
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    scratch = site.attempt_scratch(attempt_id)
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        with _tempdir(scratch):
            return _run_logged(attempt_id, site, log_path, task, params, key, processing_date, batch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@contextlib.contextmanager
def _tempdir(folder: Path) -> Iterator[None]:
    """Make ``folder`` the ``tempfile`` default for the block (the attempt's scratch folder)."""
    before = tempfile.tempdir
    tempfile.tempdir = str(folder)
    try:
        yield
    finally:
        tempfile.tempdir = before


def _run_logged(
    attempt_id: int, site: Site, log_path: str, task: str, params: str, key: str, processing_date: str,
    batch: str | None,
) -> dict[str, Any]:  # fmt: skip
    # line-buffered: what an attempt printed is on disk when its job is cancelled or its node lost
    with (
        open(log_path, "a", buffering=1) as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
    ):
        if batch:
            print(f"attempt {attempt_id} on {socket.gethostname()} pid {os.getpid()} in batch job {batch}")
        try:
            spec = get_task(task)
        except Exception as exc:  # not installed where the attempt runs: the machine's fault
            traceback.print_exc()
            return {"exit_code": EXIT_CRASH, "error": f"{type(exc).__name__}: {exc}"}
        try:
            outputs = [
                str(o) for o in spec.function(spec.load(params), TaskContext(site, key, processing_date))
            ]
        except spec.bad_input_types as exc:
            traceback.print_exc()
            return {"exit_code": EXIT_BAD_INPUT, "error": f"{type(exc).__name__}: {exc}"}
        except Exception as exc:
            traceback.print_exc()
            return {"exit_code": EXIT_CRASH, "error": f"{type(exc).__name__}: {exc}"}
        print("outputs:", *outputs, sep="\n  ")
        write_result(site, log_path, attempt_id, outputs)  # the next driver's record if this one dies now
    return {"exit_code": EXIT_OK, "outputs": outputs}
