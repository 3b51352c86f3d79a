"""Run-state tables of the pipeline driver: tasks, runs of a task, attempts of a run.

The driver owns the truth about work: executors only run things. States of runs and attempts:
``queued``, ``running``, ``done``, ``failed`` (bad input, not retried), ``crashed``
(infrastructure, retried), ``held`` (waiting for data), ``late``, ``cancelled``.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fermi_ingest.db import Base

STATES = ("queued", "running", "done", "failed", "crashed", "held", "late", "cancelled")


def utcnow() -> datetime:
    """Current time, UTC."""
    return datetime.now(timezone.utc)


class PipelineTask(Base):
    """A kind of work (``l1run`` ...)."""

    __tablename__ = "pipeline_task"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)


class PipelineRun(Base):
    """One unit of work of a task (e.g. the L1 processing of one LAT run)."""

    __tablename__ = "pipeline_run"
    __table_args__ = (UniqueConstraint("task_pk", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_pk: Mapped[int] = mapped_column(ForeignKey("pipeline_task.id"))
    key: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16), default="queued")
    params: Mapped[str] = mapped_column(Text, default="{}")
    #: DATE written in the products: fixed when the run is first created, so re-runs are identical.
    processing_date: Mapped[str] = mapped_column(String(19))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    task: Mapped[PipelineTask] = relationship()
    attempts: Mapped[list[PipelineAttempt]] = relationship(
        back_populates="run", order_by="PipelineAttempt.number"
    )


class PipelineAttempt(Base):
    """One try of a run on an executor."""

    __tablename__ = "pipeline_attempt"
    __table_args__ = (UniqueConstraint("run_pk", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_pk: Mapped[int] = mapped_column(ForeignKey("pipeline_run.id"))
    number: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    executor: Mapped[str] = mapped_column(String(32))
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    driver_host: Mapped[str] = mapped_column(String(255))
    driver_pid: Mapped[int] = mapped_column(Integer)
    batch_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    log_path: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    queue_wait: Mapped[float | None] = mapped_column(Float, nullable=True)

    run: Mapped[PipelineRun] = relationship(back_populates="attempts")


class PipelineRerunRequest(Base):
    """A request to re-run ("repipe") a failed step or a whole run, with who asked, why and when.

    Anyone may write one (``fermi-l1 rerun``, the isoc page); only the driver acts on it: on its
    next pass it requeues the targets (state ``queued``, one :class:`PipelineRerunTarget` row each)
    and, once they are final, marks the request ``done`` with the attempts it created.
    States: ``requested``, ``queued``, ``done``, ``refused`` (the run changed before the driver
    came), ``superseded`` (recorded before the driver consumed requests; never acted on).
    """

    __tablename__ = "pipeline_rerun_request"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: the run as requested: ``TASK/KEY`` (one task run) or ``rNNNNNNNNNN`` (a LAT run's L1 chain)
    run: Mapped[str] = mapped_column(String(160), index=True)
    step: Mapped[str | None] = mapped_column(String(64), nullable=True)  # None: the whole run
    requested_by: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(16))  # "cli", "web", ...
    state: Mapped[str] = mapped_column(String(16), default="requested", index=True)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: JSON list of the ``pipeline_attempt`` ids the re-run created
    attempt_ids: Mapped[str] = mapped_column(Text, default="[]")
    outcome: Mapped[str] = mapped_column(Text, default="")


class PipelineRerunTarget(Base):
    """One task run requeued by a re-run request, and its attempt count when it was requeued.

    Attempts numbered above ``attempt_base`` belong to the re-run (the retry budget restarts there).
    """

    __tablename__ = "pipeline_rerun_target"
    __table_args__ = (UniqueConstraint("request_pk", "run_pk"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_pk: Mapped[int] = mapped_column(ForeignKey("pipeline_rerun_request.id"), index=True)
    run_pk: Mapped[int] = mapped_column(ForeignKey("pipeline_run.id"), index=True)
    attempt_base: Mapped[int] = mapped_column(Integer)
