"""A small but complete world for the page tests: deliveries, gaps, quarantine, chunks, runs, attempts."""

from __future__ import annotations

from pathlib import Path

TOKEN = "correct horse battery staple"


def populate(db, tmp_path: Path) -> None:
    """Two deliveries and five runs of task L1Proc in every interesting state."""
    d1 = db.delivery("260324001", age_h=5, met=7.96e8)
    d2 = db.delivery("260324002", age_h=2, met=7.96e8 + 3600, n_quarantined=1)
    f2 = db.file(d2, "t.pkt", "/archive/t.pkt", "0" * 64, 100)
    db.gap(d2, apid=957, met=7.96e8 + 3700)
    db.quarantine(d2, f2, reason="bad-length")
    db.chunk(d1, 0, 796000000)
    db.chunk(d2, 0, 796003600)
    log = tmp_path / "r0796003600.attempt2.log"
    log.write_text("l1run: reading chunk 0\nERROR: EPU 1 stream truncated\n")
    db.run("L1Proc/r0796000000", "done", age_h=4, attempts=[(1, "done", 0, "rome0001", 12)])
    db.run("L1Proc/r0796003600", "failed", age_h=1,
           attempts=[(1, "crashed", 137, "rome0003", 3), (2, "failed", 1, "rome0004", 2)])  # fmt: skip
    db.run("L1Proc/r0796007200", "held", age_h=0.5)
    db.run("L1Proc/r0796010800", "running", age_h=0.2, attempts=[(1, "running", None, "rome0006", None)])
    db.run("L1Proc/r0796014400", "queued", age_h=0.1)
    # point the failed attempt's log at a real file
    from sqlalchemy import update

    from fermi_core.db import session_scope
    from fermi_core.engine.models import TaskAttempt

    with session_scope(db.url) as s:
        s.execute(update(TaskAttempt).where(TaskAttempt.number == 2).values(log_path=str(log)))


#: halfpipe states added by :func:`add_halfpipe`: (LAT run, status, delivered, held, late, reason)
HALFPIPE = [
    (796003600, "incomplete", 1200, 0, 4, "timed out waiting for EPU 1"),  # L1 failed
    (796007200, "open", 300, 35, 0, ""),  # L1 held
    (796099999, "rejected", 0, 0, 0, "bad run header"),  # no L1 run
]


def add_halfpipe(db) -> None:
    """Give delivery 260324002 two more chunks (runs 796007200, 796099999) and the halfpipe states."""
    from sqlalchemy import select

    from fermi_core.db import session_scope
    from fermi_halfpipe.models import HalfpipeRun
    from fermi_ingest.models import Delivery

    with session_scope(db.url) as s:
        d2 = s.scalar(select(Delivery.id).where(Delivery.delivery_id == "260324002"))
    db.chunk(d2, 1, 796007200)
    db.chunk(d2, 2, 796099999)
    with session_scope(db.url) as s:
        for run_id, status, n_delivered, n_held, n_late, reason in HALFPIPE:
            s.add(HalfpipeRun(run_id=run_id, status=status, n_delivered=n_delivered, n_held=n_held,
                              n_late=n_late, reason=reason))  # fmt: skip


#: the grouped world of :func:`populate_lat_runs`: LAT run -> (halfpipe state, L1 state of the index)
LAT_WORLD = {
    796000000: ("complete", "done"),
    796003600: ("incomplete", "failed"),
    796007200: ("held", "not started"),
    796010800: ("overdue", "not started"),
    796014400: ("accepted", "running"),
    796099999: ("rejected", "not started"),
}
#: receipt of delivery 260324001 (5 h before NOW) to the first FT1 export of run 796000000
LATENCY_MIN = 40


def _hp_run(s, run_id: int, status: str, *, n: int, held: int = 0, lost: int = 0, reason: str = "",
            deadline=None, revision: int = 0, last_data=None) -> None:  # fmt: skip
    from fermi_halfpipe.models import HalfpipeRun

    s.add(HalfpipeRun(run_id=run_id, status=status, n_delivered=n, n_held=held, n_late=0, reason=reason,
                      revision=revision, lost_events=lost, last_data_utc=last_data, deadline_utc=deadline))  # fmt: skip


def _task_run(s, task: str, key: str, state: str, start, attempts: list[tuple]) -> None:
    """A task run and its attempts ``(state, queue wait s, minutes or None while running)`` from ``start``."""
    from datetime import timedelta

    from sqlalchemy import select

    from fermi_core.engine.models import Task, TaskAttempt, TaskRun

    t = s.scalar(select(Task).where(Task.name == task))
    if t is None:
        t = Task(name=task, max_attempts=3)
        s.add(t)
        s.flush()
    run = TaskRun(task_pk=t.id, key=key, state=state, processing_date="2026-11-20T00:00:00", created_at=start,
                  updated_at=start)  # fmt: skip
    s.add(run)
    s.flush()
    at = start
    for number, (st, wait, minutes) in enumerate(attempts, 1):
        started = at + timedelta(seconds=wait)
        ended = None if minutes is None else started + timedelta(minutes=minutes)
        s.add(TaskAttempt(run_pk=run.id, number=number, state=st, executor="local", host="rome0001",
                          driver_host="driver", driver_pid=1, exit_code=None if ended is None else (0 if st == "done" else 1),
                          log_path=f"/logs/{key}.{number}.log", submitted_at=at, started_at=started, ended_at=ended,
                          queue_wait=float(wait)))  # fmt: skip
        at = ended or started


def populate_lat_runs(db) -> None:
    """Deliveries, chunks, halfpipe states, L1 chains (crumbs, run input, products) of :data:`LAT_WORLD`."""
    from datetime import datetime, timedelta, timezone

    from fermi_core.db import session_scope
    from fermi_l1.catalog.models import Dataset

    from .conftest import NOW

    d1 = db.delivery("260324001", age_h=5, met=7.96e8)
    d2 = db.delivery("260324002", age_h=2, met=7.96e8 + 3600)
    db.chunk(d1, 0, 796000000)
    db.chunk(d2, 0, 796003600)
    db.chunk(d2, 1, 796007200)
    db.chunk(d2, 2, 796099999)
    received = NOW - timedelta(hours=5)
    future, past = datetime(2100, 1, 1, tzinfo=timezone.utc), datetime(2020, 1, 1, tzinfo=timezone.utc)
    with session_scope(db.url) as s:
        _hp_run(s, 796000000, "complete", n=1200, revision=1)
        _hp_run(
            s,
            796003600,
            "incomplete",
            n=1196,
            lost=4,
            reason="EPU 1 datagram gap at the deadline",
            revision=1,
        )
        _hp_run(s, 796007200, "open", n=300, held=35, deadline=future)
        _hp_run(s, 796010800, "open", n=120, held=10, deadline=past)
        _hp_run(s, 796014400, "accepted", n=800, reason="one EPU only; accepted by alice", revision=1)
        _hp_run(s, 796099999, "rejected", n=0, reason="three EPUs in one run")
        # run 796000000: 3 crumbs, run input, L1 products; done 40 min after its delivery
        t = received + timedelta(minutes=5)
        for k in range(3):
            _task_run(s, "recon", f"r0796000000.c0000.k{k:03d}", "done", t, [("done", 30 * k, 10)])
        _task_run(s, "runinput", "r0796000000", "done", t + timedelta(minutes=12), [("done", 5, 3)])
        _task_run(s, "l1run", "r0796000000", "done", t + timedelta(minutes=16), [("done", 10, 18)])
        # run 796003600: one crumb of three failed after a crash
        t = NOW - timedelta(hours=1)
        _task_run(s, "recon", "r0796003600.c0000.k000", "done", t, [("done", 2, 8)])
        _task_run(s, "recon", "r0796003600.c0000.k001", "done", t, [("done", 4, 9)])
        _task_run(s, "recon", "r0796003600.c0000.k002", "failed", t, [("crashed", 3, 2), ("failed", 60, 1)])
        # run 796014400: crumbs running
        t = NOW - timedelta(minutes=20)
        _task_run(s, "recon", "r0796014400.c0000.k000", "done", t, [("done", 1, 5)])
        _task_run(s, "recon", "r0796014400.c0000.k001", "running", t, [("running", 120, None)])
        # products of run 796000000: FT1 v1 then v2 (a reprocessing), FT2 v1
        for data_type, version, minutes in (
            ("FT1", 1, LATENCY_MIN),
            ("FT2", 1, LATENCY_MIN - 1),
            ("FT1", 2, 200),
        ):
            name = f"gll_{data_type.lower()}_r0796000000_v{version:03d}.fit"
            s.add(Dataset(logical_path=f"/L1/{data_type}/r0796000000", file_path=f"products/{name}",
                          data_type=data_type, version=version, run=796000000, met_start=7.96e8,
                          met_stop=7.96e8 + 3600, size=1000, checksum=f"{version}" * 64, creator="test",
                          provenance="{}", registered_at=received + timedelta(minutes=minutes)))  # fmt: skip


def populate_many_lat_runs(url: str, now, n_runs: int, crumbs: int = 20, first_run: int = 797000000) -> None:
    """``n_runs`` more LAT runs done before ``now`` (deliveries, chunks, halfpipe, crumbs, products).

    For the paging tests and the load test (``ci/load_test.py`` imports this module by path).
    """
    from datetime import timedelta

    from fermi_core.db import session_scope
    from fermi_ingest.models import Chunk, Delivery
    from fermi_l1.catalog.models import Dataset

    NOW = now
    with session_scope(url) as s:
        for i in range(n_runs):
            run_id = first_run + 3600 * i
            received = NOW - timedelta(hours=2 * (n_runs - i))
            d = Delivery(delivery_id=f"27{i:07d}", manifest_sha256="0" * 64, scid=77, state="ingested",
                         archive_dir=f"/archive/{i}", n_files=1, n_bytes=1000, n_packets=10, n_quarantined=0,
                         quarantined_bytes=0, met_start=run_id, met_stop=run_id + 3600, ingested_at=received)  # fmt: skip
            s.add(d)
            s.flush()
            s.add(Chunk(delivery_pk=d.id, number=0, run_id=run_id, apids="956,957", met_start=run_id,
                        met_stop=run_id + 60, n_packets=100, n_datagrams=10, n_bytes=1000,
                        json_path=f"/chunks/{i}.json", xml_path=f"/chunks/{i}.xml"))  # fmt: skip
            _hp_run(s, run_id, "complete", n=1000, revision=1)
            t = received + timedelta(minutes=2)
            key = f"r{run_id:010d}"
            for k in range(crumbs):
                _task_run(s, "recon", f"{key}.c0000.k{k:03d}", "done", t, [("done", k % 7, 4)])
            _task_run(s, "runinput", key, "done", t + timedelta(minutes=6), [("done", 2, 1)])
            _task_run(s, "l1run", key, "done", t + timedelta(minutes=8), [("done", 3, 9)])
            for data_type in ("FT1", "FT2"):
                s.add(Dataset(logical_path=f"/L1/{data_type}/{key}", file_path=f"products/{data_type}_{key}.fit",
                              data_type=data_type, version=1, run=run_id, met_start=run_id, met_stop=run_id + 3600,
                              size=1000, checksum="a" * 64, creator="test", provenance="{}",
                              registered_at=t + timedelta(minutes=18)))  # fmt: skip
