"""The task engine: tasks registered by their owners, task runs and attempts, retries, re-runs, executors.

Why it lives in fermi-core rather than in a package of its own (or in fermi-l1, where it grew):

* **one foundation** -- every stage package already depends on fermi-core and nothing else of
  the infrastructure; a separate ``fermi-pipeline`` would be one more package to version, pin
  and install for ~800 lines that have no users outside this monorepo;
* **the engine needs what fermi-core provides** -- the :class:`~fermi_core.site.Site` (attempt
  logs, the data home handed to tasks), the database base, sessions and the per-package
  migration runner (its tables are a :class:`~fermi_core.migrations.runner.MigrationSpec` of
  fermi-core), logging and :class:`~fermi_core.errors.BadInput` (what is not retried);
* **fermi-isoc must file re-runs without depending on fermi-l1** -- the request API and the
  state names are here, below every stage.

The engine names no stage. A package adds a task with a function, a parameter dataclass and an
entry point in the group ``fermi.tasks`` (:mod:`.registry`); the re-run chain a task belongs to,
the exception types that are bad input for it and what a re-run must move aside are declared
by the task, not here. Parsl is the optional extra ``fermi-core[farm]``.

* :mod:`.states` -- :class:`State` of task runs and attempts, :class:`RequestState` of re-run requests.
* :mod:`.models` -- :class:`Task`, :class:`TaskRun`, :class:`TaskAttempt`, :class:`RerunRequest`,
  :class:`RerunTarget` (tables ``pipeline_*``, names kept from fermi-l1).
* :mod:`.registry` -- :class:`TaskSpec`, :class:`Chain`, :class:`TaskContext`, discovery.
* :mod:`.executors` -- local process pool and Parsl (local / Slurm provider from TOML).
* :mod:`.worker` -- one attempt on an executor, its log, failure classification.
* :mod:`.driver` -- bookkeeping, orphan recovery, retries (:func:`process`).
* :mod:`.lock` -- one driver per data home (:func:`driver_lock`, :class:`DriverBusy`).
* :mod:`.rerun` -- re-run requests: :func:`request_rerun`, :func:`claim_pending`, :func:`settle`.
* :mod:`.migrations` -- the tables' Alembic history (spec ``engine``).
"""

from fermi_core.engine.driver import Summary, outputs_of, process, processing_date, recover_orphans, states_of
from fermi_core.engine.executors import ExecutorConfig, LocalExecutor, ParslExecutor, make_executor
from fermi_core.engine.lock import EXIT_DRIVER_BUSY, DriverBusy, driver_lock
from fermi_core.engine.models import RerunRequest, RerunTarget, Task, TaskAttempt, TaskRun
from fermi_core.engine.registry import Chain, TaskContext, TaskSpec, UnknownTask, chains, get_task, tasks
from fermi_core.engine.rerun import (
    RerunError,
    attempt_base,
    claim_pending,
    request_rerun,
    requests_for,
    requeued_items,
    settle,
)
from fermi_core.engine.states import STATE_NAMES, RequestState, State

__all__ = [
    "EXIT_DRIVER_BUSY",
    "STATE_NAMES",
    "Chain",
    "DriverBusy",
    "ExecutorConfig",
    "LocalExecutor",
    "ParslExecutor",
    "RequestState",
    "RerunError",
    "RerunRequest",
    "RerunTarget",
    "State",
    "Summary",
    "Task",
    "TaskAttempt",
    "TaskContext",
    "TaskRun",
    "TaskSpec",
    "UnknownTask",
    "attempt_base",
    "chains",
    "claim_pending",
    "driver_lock",
    "get_task",
    "make_executor",
    "outputs_of",
    "process",
    "processing_date",
    "recover_orphans",
    "request_rerun",
    "requests_for",
    "requeued_items",
    "settle",
    "states_of",
    "tasks",
]  # fmt: skip
