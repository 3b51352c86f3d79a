"""Tables of the task engine: tasks, task runs, attempts, re-run requests and their targets.

The engine owns the truth about work; executors only run things. The tables keep the names
fermi-l1 gave them when the engine lived there (``pipeline_*``), so databases made before the
move are used as they are (:mod:`fermi_core.engine.migrations` adopts them).

* :class:`Task` -- a kind of work (``pipeline_task``), with its attempt budget.
* :class:`TaskRun` -- one unit of work of a task, named by a key (``pipeline_run``).
* :class:`TaskAttempt` -- one try of a task run on an executor (``pipeline_attempt``).
* :class:`RerunRequest` -- who asked to re-run what, why and when (``pipeline_rerun_request``).
* :class:`RerunTarget` -- a task run requeued by a request (``pipeline_rerun_target``).
* :class:`DriverLock` -- the driver working on the data home now, if any (``pipeline_driver``).

States are those of :mod:`fermi_core.engine.states`, stored as their strings.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fermi_core.engine.states import RequestState, State
from fermi_core.schema import Base

__all__ = ["DriverLock", "RerunRequest", "RerunTarget", "Task", "TaskAttempt", "TaskRun", "utcnow"]


def utcnow() -> datetime:
    """Current time, UTC."""
    return datetime.now(timezone.utc)


class Task(Base):
    """A kind of work, by the name it is registered under (see :mod:`fermi_core.engine.registry`)."""

    __tablename__ = "pipeline_task"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)


class TaskRun(Base):
    """One unit of work of a task, e.g. the L1 products of one LAT run (key ``r0239557414``)."""

    __tablename__ = "pipeline_run"
    __table_args__ = (UniqueConstraint("task_pk", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_pk: Mapped[int] = mapped_column(ForeignKey("pipeline_task.id"))
    key: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16), default=State.QUEUED.value)
    #: the task's parameters, JSON of its parameter dataclass (keys sorted)
    params: Mapped[str] = mapped_column(Text, default="{}")
    #: DATE written in the products: fixed when the task run is first created, so re-runs are identical
    processing_date: Mapped[str] = mapped_column(String(19))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    task: Mapped[Task] = relationship()
    attempts: Mapped[list[TaskAttempt]] = relationship(back_populates="run", order_by="TaskAttempt.number")


class TaskAttempt(Base):
    """One try of a task run on an executor."""

    __tablename__ = "pipeline_attempt"
    __table_args__ = (UniqueConstraint("run_pk", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_pk: Mapped[int] = mapped_column(ForeignKey("pipeline_run.id"))
    number: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default=State.QUEUED.value)
    executor: Mapped[str] = mapped_column(String(32))
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    driver_host: Mapped[str] = mapped_column(String(255))
    driver_pid: Mapped[int] = mapped_column(Integer)
    batch_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    log_path: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: JSON list of what a successful attempt returned (paths, ids); None before engine_0002 or if not done
    outputs: Mapped[str | None] = mapped_column(Text, nullable=True)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    queue_wait: Mapped[float | None] = mapped_column(Float, nullable=True)

    run: Mapped[TaskRun] = relationship(back_populates="attempts")


class RerunRequest(Base):
    """A request to re-run ("repipe") a failed step or a whole subject, with who asked, why and when.

    Anyone may write one (``fermi-l1 rerun``, the isoc page, through :mod:`fermi_core.engine.rerun`);
    only a driver acts on it: it requeues the targets (one :class:`RerunTarget` each) and, once
    they are final, marks the request done with the attempts it created. States:
    :class:`~fermi_core.engine.states.RequestState`.
    """

    __tablename__ = "pipeline_rerun_request"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: what was requested: ``TASK/KEY`` (one task run) or a chain's subject (e.g. a LAT run ``r0239557414``)
    run: Mapped[str] = mapped_column(String(160), index=True)
    step: Mapped[str | None] = mapped_column(String(64), nullable=True)  # None: the whole chain
    requested_by: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(16))  # "cli", "web", ...
    state: Mapped[str] = mapped_column(String(16), default=RequestState.REQUESTED.value, index=True)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: JSON list of the ``pipeline_attempt`` ids the re-run created
    attempt_ids: Mapped[str] = mapped_column(Text, default="[]")
    outcome: Mapped[str] = mapped_column(Text, default="")


class RerunTarget(Base):
    """One task run requeued by a re-run request, and its attempt count when it was requeued.

    Attempts numbered above ``attempt_base`` belong to the re-run (the retry budget restarts there).
    """

    __tablename__ = "pipeline_rerun_target"
    __table_args__ = (UniqueConstraint("request_pk", "run_pk"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_pk: Mapped[int] = mapped_column(ForeignKey("pipeline_rerun_request.id"), index=True)
    run_pk: Mapped[int] = mapped_column(ForeignKey("pipeline_run.id"), index=True)
    attempt_base: Mapped[int] = mapped_column(Integer)


class DriverLock(Base):
    """The driver working on the data home now: one row per lock name while it runs (:mod:`.lock`).

    A row is stale -- its driver gone -- when its ``pid`` no longer exists on its ``host`` (as
    seen from that host) or its ``heartbeat_at`` is older than the staleness limit; the next
    driver then takes it over.
    """

    __tablename__ = "pipeline_driver"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: what is locked (``pipeline``: the engine's work on this database's data home)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    #: the command holding it, e.g. ``fermi-l1 pipeline``
    holder: Mapped[str] = mapped_column(String(128))
    #: the data home it works on, as that driver sees it
    home: Mapped[str] = mapped_column(String(1024))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    #: random, per acquisition: only the holder renews or releases its row
    token: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
