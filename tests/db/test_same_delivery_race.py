"""Two processes merging the same delivery at once on PostgreSQL: one merges, the other finds it merged."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import func, select, text

from fermi_core.db import get_engine, session_scope
from fermi_halfpipe import models as H

HERE = Path(__file__).resolve().parent
TIMEOUT = 240  # seconds for the worker processes (they import numba and compile on 2 cores)

#: merges delivery argv[1] (part argv[2]) of the shared synthetic run; says whether it was merged already
MERGE = """
import json, sys
sys.path.insert(0, sys.argv[3])
import workers
from fermi_halfpipe.testing import deliver
summary = deliver(sys.argv[1], workers.halfpipe_parts(workers.halfpipe_run(), sys.argv[2]))
print(json.dumps({"delivery": sys.argv[1], "already_merged": summary.already_merged,
                  "files": [f["sha256"] for r in summary["runs"] for f in r["files"]]}))
"""


def _spawn(args: list[str], home: Path, url: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *args],
        env={**os.environ, "FERMI_HOME": str(home), "FERMI_DB_URL": url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _waiting_advisory_locks(url: str) -> int:
    with get_engine(url).connect() as conn:
        return conn.execute(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND pid IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database())"
            )
        ).scalar()


def test_two_processes_merging_one_delivery_at_once_merge_it_once(pg_url, tmp_path, workers):
    run = workers.halfpipe_run()
    get_engine()
    home = tmp_path / "home"
    # A third process holds the run's lock so that both mergers are inside their transaction, past
    # the start of the merge, at the same time: the race is forced, not left to timing.
    holder = _spawn([str(HERE / "workers.py"), "hold-run-lock", str(run.run)], home, pg_url)
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(holder.stdout.readline()))
    reader.start()
    reader.join(TIMEOUT)
    assert line == ["locked\n"], holder.stderr.read() if holder.poll() is not None else "holder silent"
    mergers = [_spawn(["-c", MERGE, "230401001", "a", str(HERE)], home, pg_url) for _ in range(2)]
    deadline = time.monotonic() + TIMEOUT
    while _waiting_advisory_locks(pg_url) < 2:
        assert time.monotonic() < deadline, "the mergers never both waited"
        assert all(m.poll() is None for m in mergers), [m.communicate()[1][-3000:] for m in mergers]
        time.sleep(0.2)
    os.killpg(holder.pid, signal.SIGKILL)
    holder.wait()
    results = []
    for m in mergers:
        stdout, stderr = m.communicate(timeout=TIMEOUT)
        assert m.returncode == 0, f"merger failed:\n{stderr[-3000:]}"
        results.append(json.loads(stdout.strip().splitlines()[-1]))
    assert sorted(r["already_merged"] for r in results) == [False, True]
    assert results[0]["files"] == results[1]["files"] and results[0]["files"]  # the same outputs
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(H.HalfpipeDelivery)) == 1
        assert s.scalar(select(func.count()).select_from(H.HalfpipeFile)) == len(results[0]["files"])
        n_rows = s.scalar(select(func.count()).select_from(H.HalfpipeDatagram))
    assert n_rows == len(run.datagrams[956]) // 2 + len(run.datagrams[957])
