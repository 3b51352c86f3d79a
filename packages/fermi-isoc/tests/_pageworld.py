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
