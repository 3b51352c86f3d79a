"""Fixtures of fermi-isoc tests: a fresh database with deliveries, gaps and pipeline runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

import fermi_isoc.models  # noqa: F401
from fermi_core.db import get_engine, session_scope
from fermi_core.engine.models import Task, TaskAttempt, TaskRun
from fermi_ingest.models import Chunk, Delivery, DeliveryFile, Gap, QuarantinedSpan

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


@dataclass
class Db:
    """A test database and helpers to fill it."""

    url: str

    def delivery(self, delivery_id: str, age_h: float, met: float = 7.0e8, **kw) -> int:
        with session_scope(self.url) as s:
            d = Delivery(
                delivery_id=delivery_id, manifest_sha256="0" * 64, scid=77, state=kw.get("state", "ingested"),
                archive_dir=kw.get("archive_dir", f"/archive/{delivery_id}"), n_files=1, n_bytes=1000,
                n_packets=10, n_quarantined=kw.get("n_quarantined", 0), quarantined_bytes=0,
                met_start=met, met_stop=met + 3600, ingested_at=NOW - timedelta(hours=age_h),
            )  # fmt: skip
            s.add(d)
            s.flush()
            return d.id

    def file(self, delivery_pk: int, name: str, archive_path: str, sha256: str, size: int) -> int:
        with session_scope(self.url) as s:
            f = DeliveryFile(
                delivery_pk=delivery_pk, position=0, name=name, size=size, sha256=sha256,
                archive_path=archive_path, n_packets=1, good_bytes=size, quarantined_bytes=0,
            )  # fmt: skip
            s.add(f)
            s.flush()
            return f.id

    def gap(self, found_by: int, apid: int = 956, status: str = "open", met: float = 7.0e8) -> None:
        with session_scope(self.url) as s:
            s.add(
                Gap(
                    apid=apid, kind="sequence", missing=5, seq_before=10, seq_after=16, met_before=met,
                    met_after=met + 5, delivery_before_pk=found_by, delivery_after_pk=found_by,
                    found_by_pk=found_by, status=status,
                )
            )  # fmt: skip

    def chunk(self, delivery_pk: int, number: int, run_id: int) -> None:
        with session_scope(self.url) as s:
            s.add(
                Chunk(
                    delivery_pk=delivery_pk, number=number, run_id=run_id, apids="956,957", met_start=7.0e8,
                    met_stop=7.0e8 + 60, n_packets=100, n_datagrams=10, n_bytes=1000,
                    json_path=f"/chunks/{number}.json", xml_path=f"/chunks/{number}.xml",
                )
            )  # fmt: skip

    def quarantine(self, delivery_pk: int, file_pk: int, reason: str = "bad-length") -> None:
        with session_scope(self.url) as s:
            s.add(
                QuarantinedSpan(
                    delivery_pk=delivery_pk, file_pk=file_pk, offset=128, length=64, reason=reason, apid=956,
                    path="/quarantine/x.bin",
                )
            )  # fmt: skip

    def run(self, key: str, state: str, age_h: float = 1.0, attempts: list[tuple] = ()) -> None:
        """A pipeline run ``<task>/<run key>``; ``attempts``: (number, state, exit_code, host, minutes)."""
        task_name, _, run_key = key.partition("/")
        t = NOW - timedelta(hours=age_h)
        with session_scope(self.url) as s:
            task = s.scalar(select(Task).where(Task.name == task_name))
            if task is None:
                task = Task(name=task_name, max_attempts=3)
                s.add(task)
                s.flush()
            run = TaskRun(task_pk=task.id, key=run_key, state=state, processing_date="2026-11-20T00:00:00",
                              created_at=t, updated_at=t)  # fmt: skip
            s.add(run)
            s.flush()
            for number, st, code, host, minutes in attempts:
                s.add(
                    TaskAttempt(
                        run_pk=run.id, number=number, state=st, executor="local", host=host, driver_host="driver",
                        driver_pid=1, batch_id=f"job{run.id}{number}", exit_code=code,
                        log_path=f"/logs/{run_key}.attempt{number}.log", submitted_at=t, started_at=t,
                        ended_at=t + timedelta(minutes=minutes) if minutes is not None else None,
                    )
                )  # fmt: skip

    def run_attempt(self, key: str, number: int, state: str) -> None:
        """Add attempt ``number`` to a run and set the run's state (as the driver would)."""
        task_name, _, run_key = key.partition("/")
        with session_scope(self.url) as s:
            run = s.scalars(
                select(TaskRun).join(Task).where(Task.name == task_name, TaskRun.key == run_key)
            ).one()
            s.add(TaskAttempt(run_pk=run.id, number=number, state=state, executor="local", driver_host="driver",
                                  driver_pid=1, exit_code=0 if state == "done" else 2))  # fmt: skip
            run.state = state

    def attempt_ids(self, key: str, numbers: tuple[int, ...]) -> list[int]:
        """Ids of the given attempts of a run."""
        task_name, _, run_key = key.partition("/")
        with session_scope(self.url) as s:
            return list(
                s.scalars(
                    select(TaskAttempt.id)
                    .join(TaskRun, TaskRun.id == TaskAttempt.run_pk)
                    .join(Task, Task.id == TaskRun.task_pk)
                    .where(Task.name == task_name, TaskRun.key == run_key,
                           TaskAttempt.number.in_(numbers))
                )
            )  # fmt: skip


@pytest.fixture
def db(tmp_path, monkeypatch) -> Db:
    """An empty SQLite database with every table (ingest, isoc, pipeline)."""
    url = f"sqlite:///{tmp_path / 'fermi.db'}"
    monkeypatch.setenv("FERMI_DB_URL", url)
    monkeypatch.setenv("FERMI_HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    get_engine(url)  # creates every registered table (ingest, isoc, pipeline, catalog)
    return Db(url)
