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
    log = tmp_path / "digi.2.log"
    log.write_text("digi: reading chunk 0\nERROR: EPU 1 stream truncated\n")
    db.run(
        "L1Proc/r0796000000",
        "done",
        age_h=4,
        run_id=796000000,
        attempts=[("digi", 1, "done", 0, "rome0001", 12), ("recon", 1, "done", 0, "rome0002", 40)],
    )
    db.run(
        "L1Proc/r0796003600",
        "failed",
        age_h=1,
        run_id=796003600,
        delivery_id="260324002",
        attempts=[
            ("digi", 1, "crashed", 137, "rome0003", 3),
            ("digi", 2, "failed", 1, "rome0004", 2),
            ("recon", 1, "done", 0, "rome0005", 30),
        ],
    )
    db.run("L1Proc/r0796007200", "held", age_h=0.5, run_id=796007200)
    db.run(
        "L1Proc/r0796010800",
        "running",
        age_h=0.2,
        run_id=796010800,
        attempts=[("digi", 1, "running", None, "rome0006", None)],
    )
    db.run("L1Proc/r0796014400", "queued", age_h=0.1, run_id=796014400)
    # point the failed digi attempt's log at a real file
    from sqlalchemy import update

    from fermi_ingest.db import get_engine
    from fermi_isoc.queries.pipeline_schema import ATTEMPT

    with get_engine(db.url).begin() as conn:
        conn.execute(
            update(ATTEMPT).where(ATTEMPT.c.step == "digi", ATTEMPT.c.attempt == 2).values(log_path=str(log))
        )
