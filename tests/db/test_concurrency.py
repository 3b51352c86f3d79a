"""Several processes on one PostgreSQL database: nothing lost, nothing twice, no lock left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from sqlalchemy import func, select, text

from fermi_core.db import get_engine, session_scope
from fermi_core.migrations import runner
from fermi_halfpipe import models as H
from fermi_halfpipe.stitch import run_status
from fermi_halfpipe.testing import merged_outputs
from fermi_ingest.models import ApidSpan, Chunk, Delivery, DeliveryFile, Gap

WORKERS = Path(__file__).resolve().parent / "workers.py"
TIMEOUT = 240  # seconds for a batch of worker processes (they import numba and compile on 2 cores)


def _spawn(action: str, *args: str, home: Path, url: str, **env: str) -> subprocess.Popen:
    environment = {**os.environ, "FERMI_HOME": str(home), "FERMI_DB_URL": url, **env}
    return subprocess.Popen(
        [sys.executable, str(WORKERS), action, *args],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _finish(procs: list[subprocess.Popen]) -> list[dict]:
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=TIMEOUT)
        assert p.returncode == 0, f"worker {p.args[2:]} failed:\n{stderr[-3000:]}"
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def _advisory_locks(url: str) -> list[tuple[int, bool]]:
    """Advisory locks held in this test's database (other test processes share the server)."""
    with get_engine(url).connect() as conn:
        return [
            (r.pid, r.granted)
            for r in conn.execute(
                text(
                    "SELECT pid, granted FROM pg_locks WHERE locktype = 'advisory' AND pid IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database())"
                )
            )
        ]


def test_ingest_processes_on_different_deliveries_lose_and_repeat_nothing(pg_url, tmp_path, workers):
    n = 4
    paths = workers.write_deliveries(tmp_path / "in", n)
    get_engine()  # the schema exists before the race (its creation is tested on its own)
    procs = [_spawn("ingest", str(p), home=tmp_path / f"host{i}", url=pg_url) for i, p in enumerate(paths)]
    results = _finish(procs)
    assert sorted(r["delivery"] for r in results) == [f"2304010{i:02d}" for i in range(n)]
    assert not any(r["again"] for r in results)
    packets = {r["delivery"]: r["packets"] for r in results}
    with session_scope() as s:
        deliveries = s.scalars(select(Delivery)).all()
        assert {d.delivery_id: d.n_packets for d in deliveries} == packets
        for d in deliveries:
            files = s.scalars(select(DeliveryFile).where(DeliveryFile.delivery_pk == d.id)).all()
            expected = sorted((tmp_path / "in" / f"dl{d.delivery_id[-2:]}").glob("*.pkt"))
            assert sorted((f.name, f.size) for f in files) == [(p.name, p.stat().st_size) for p in expected]
            spans = s.scalars(select(ApidSpan).where(ApidSpan.delivery_pk == d.id)).all()
            assert len(spans) == 2 * 3 and sum(sp.n_packets for sp in spans) == d.n_packets
            chunks = s.scalars(select(Chunk).where(Chunk.delivery_pk == d.id)).all()
            assert sum(c.n_packets for c in chunks) == d.n_packets  # every packet in one chunk
        # whatever the order the processes committed in, every gap one found was filled by another
        assert s.scalar(select(func.count()).select_from(Gap).where(Gap.status == "open")) == 0
    assert _advisory_locks(pg_url) == []


def test_two_mergers_racing_for_one_run_lose_and_duplicate_nothing(pg_url, tmp_path, workers):
    run = workers.halfpipe_run()
    get_engine()
    home = tmp_path / "home"
    procs = [
        _spawn("merge", dl, part, home=home, url=pg_url)
        for dl, part in (("230401001", "a"), ("230401002", "b"))
    ]
    results = _finish(procs)
    # exactly one of them found the run complete and retired it
    retired = [r["retired"] for r in results if r["retired"]]
    assert retired == [[{"run_id": run.run, "status": "complete"}]]
    summaries = [
        json.loads((home / "halfpipe" / "deliveries" / f"{r['delivery']}.json").read_text()) for r in results
    ]
    seq, recs = merged_outputs(home, summaries)
    assert np.array_equal(seq, run.gem_seq) and recs == run.records  # every event once, in order
    with session_scope() as s:
        n_rows = s.scalar(select(func.count()).select_from(H.HalfpipeDatagram))
        n_keys = s.scalar(
            select(func.count()).select_from(
                select(H.HalfpipeDatagram.run_id, H.HalfpipeDatagram.apid, H.HalfpipeDatagram.seq)
                .distinct()
                .subquery()
            )
        )
        assert s.scalar(select(func.count()).select_from(H.HalfpipeDelivery)) == 2
    assert n_rows == n_keys == len(run.datagrams[956]) + len(run.datagrams[957])
    assert run_status()[0]["status"] == "complete"
    assert _advisory_locks(pg_url) == []


def test_a_process_killed_holding_the_run_lock_releases_it(pg_url, tmp_path, workers):
    run = workers.halfpipe_run()
    get_engine()
    home = tmp_path / "home"
    holder = _spawn("hold-run-lock", str(run.run), home=home, url=pg_url)
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(holder.stdout.readline()))
    reader.start()
    reader.join(TIMEOUT)
    assert line == ["locked\n"], holder.stderr.read() if holder.poll() is not None else "holder silent"
    assert [g for _, g in _advisory_locks(pg_url)] == [True]
    # a merger of the same run waits for the lock (and would give up after FERMI_DB_LOCK_TIMEOUT)
    merger = _spawn("merge", "230401001", "a", home=home, url=pg_url, FERMI_DB_LOCK_TIMEOUT="60")
    deadline = time.monotonic() + TIMEOUT
    # (the merger holds the lock of its delivery and waits for the run's)
    while sorted(g for _, g in _advisory_locks(pg_url)) != [False, True, True]:
        assert time.monotonic() < deadline and merger.poll() is None, "the merger never waited for the lock"
        time.sleep(0.2)
    os.killpg(holder.pid, signal.SIGKILL)  # dies holding the lock, no clean-up of its own
    holder.wait()
    (result,) = _finish([merger])  # the server ended the dead session: the lock went with it
    assert result["retired"] == []
    assert _advisory_locks(pg_url) == []
    with get_engine().connect() as conn:
        stuck = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND (state = 'idle in transaction' OR wait_event_type = 'Lock')"
            )
        ).scalar()
    assert stuck == 0
    s2 = workers.merge("230401002", "b")  # and the run goes on to completion
    assert s2["retired_runs"] == [{"run_id": run.run, "status": "complete"}]
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(H.HalfpipeDatagram)) == sum(
            len(d) for d in run.datagrams.values()
        )


def test_processes_starting_together_on_an_empty_database_make_the_schema_once(db_url, tmp_path):
    code = "from fermi_core.db import get_engine; get_engine(); print('{}')"
    environment = {**os.environ, "FERMI_HOME": str(tmp_path / "home"), "FERMI_DB_URL": db_url}
    procs = [
        subprocess.Popen([sys.executable, "-c", code], env=environment, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]  # fmt: skip
    for p in procs:
        _, stderr = p.communicate(timeout=TIMEOUT)
        assert p.returncode == 0, stderr[-3000:]
    with get_engine().connect() as conn:
        statuses = runner.status(conn)
        for st in statuses:  # one row per version table, at the newest revision
            assert conn.execute(text(f"SELECT count(*) FROM {st.spec.version_table}")).scalar() == 1
    assert {st.state for st in statuses} == {"current"}
