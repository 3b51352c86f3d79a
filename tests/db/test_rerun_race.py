"""Two pipeline drivers claiming the same re-run requests at once: each request is acted on once.

``fermi_core.engine.rerun.claim_pending`` claims a request with a conditional update. Before, two
drivers that both saw a request ``requested`` both wrote its targets and the second failed on
the unique constraint of ``pipeline_rerun_target`` (PostgreSQL); now the second skips it.
"""

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

from fermi_core.db import get_engine
from fermi_core.engine import rerun
from fermi_core.engine.models import (
    RerunRequest,
    RerunTarget,
    Task,
    TaskAttempt,
    TaskRun,
)
from fermi_core.engine.registry import get_task
from fermi_l1.db import session
from fermi_l1.pipeline.tasks import L1_CHAIN

TIMEOUT = 120  # seconds for the worker processes


#: placeholder parameters of the L1 tasks, for task runs made by hand
_PARAMS = {
    "recon": {"merged": "", "sha256": "", "lo": 0, "hi": 1, "run": 0, "spacecraft": [], "out": ""},
    "runinput": {
        "run": 0,
        "start": 0.0,
        "stop": 0.0,
        "chunks": [],
        "spacecraft": [],
        "merged": [],
        "input_dir": "",
    },
    "l1run": {"input_dir": "", "products_dir": "", "outbox": ""},
}


def _stored(task: str, **given) -> str:
    """The stored JSON parameters of a ``task`` run with the ``given`` fields (placeholders for the rest)."""
    spec = get_task(task)
    return spec.dump(spec.load({**_PARAMS[task], **given}))


#: one driver's claim of the pending requests; prints the ids it claimed
DRIVER = """
import json
from fermi_core.engine.rerun import claim_pending
print(json.dumps(claim_pending(None)))
"""

#: holds the row lock of request argv[1] (as a driver in the middle of its claim would) until killed
HOLDER = """
import sys, time
from sqlalchemy import text
from fermi_core.db import session_scope
with session_scope() as s:
    s.execute(text("SELECT id FROM pipeline_rerun_request WHERE id = :id FOR UPDATE"), {"id": int(sys.argv[1])})
    print("locked", flush=True)
    time.sleep(600)
"""


def _lat_runs(url: str, tmp_path: Path, runs: list[int]) -> dict[int, Path]:
    """For each LAT run: a failed recon crumb, a finished run input (a folder) and a failed L1 run."""
    inputs = {}
    with session(url) as s:
        tasks = {}
        for name in L1_CHAIN.tasks:
            tasks[name] = Task(name=name, max_attempts=2)
            s.add(tasks[name])
        s.flush()
        for lat in runs:
            key = f"r{lat:010d}"
            crumb = tmp_path / "work" / key / "c0000-k000.parquet"
            crumb.parent.mkdir(parents=True)
            crumb.write_bytes(b"crumb")
            inputs[lat] = tmp_path / "inputs" / key
            inputs[lat].mkdir(parents=True)
            (inputs[lat] / "run.json").write_text("{}")
            for task, run_key, state, params in (
                ("recon", f"{key}.c0000.k000", "failed", {"out": str(crumb)}),
                ("runinput", key, "done", {"input_dir": str(inputs[lat])}),
                ("l1run", key, "failed", {"input_dir": str(inputs[lat])}),
            ):
                run = TaskRun(task_pk=tasks[task].id, key=run_key, state=state, params=_stored(task, **params),
                                  processing_date="2024-05-01T12:00:00")  # fmt: skip
                s.add(run)
                s.flush()
                s.add(TaskAttempt(run_pk=run.id, number=1, state=state, executor="local",
                                      driver_host="h", driver_pid=1))  # fmt: skip
    return inputs


def _request_all(url: str, runs: list[int]) -> list[int]:
    return [
        rerun.request_rerun(url, f"r{lat:010d}", who="ops", why="new calibration", origin="cli").id
        for lat in runs
    ]


def _spawn(code: str, url: str, home: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env={**os.environ, "FERMI_DB_URL": url, "FERMI_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _claimed(proc: subprocess.Popen) -> list[int]:
    stdout, stderr = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, f"driver failed:\n{stderr[-3000:]}"
    return json.loads(stdout.strip().splitlines()[-1])


def _check_acted_on_once(url: str, rids: list[int], inputs: dict[int, Path]) -> None:
    with session(url) as s:
        targets = s.execute(select(RerunTarget.request_pk, func.count()).group_by(
            RerunTarget.request_pk)).all()  # fmt: skip
        assert sorted(targets) == [(rid, 3) for rid in rids]  # the 3 tasks of each LAT run, once
        assert set(s.scalars(select(RerunRequest.state))) == {"queued"}
        assert set(s.scalars(select(TaskRun.state))) == {"queued"}
    for rid, folder in zip(rids, inputs.values(), strict=True):
        assert not folder.exists()
        assert (folder.parent / f".rerun-{rid}" / folder.name / "run.json").is_file()


def test_a_request_claimed_by_another_driver_meanwhile_is_skipped(db_url, tmp_path):
    """Driver A lists the request, driver B claims it first: A skips it, with no error and no new target."""
    get_engine(db_url)
    inputs = _lat_runs(db_url, tmp_path, [239557414])
    (rid,) = _request_all(db_url, [239557414])
    seen_by_a = rerun._requested_ids(db_url)
    assert seen_by_a == [rid]
    assert rerun.claim_pending(db_url) == [rid]  # driver B
    assert [r for r in seen_by_a if rerun._claim_one(db_url, r)] == []  # driver A carries on
    assert rerun.claim_pending(db_url) == []
    _check_acted_on_once(db_url, [rid], inputs)


def test_two_driver_processes_share_many_requests_without_overlap(db_url, tmp_path):
    get_engine(db_url)
    lat_runs = [239557414 + 10_000 * i for i in range(6)]
    inputs = _lat_runs(db_url, tmp_path, lat_runs)
    rids = _request_all(db_url, lat_runs)
    drivers = [_spawn(DRIVER, db_url, tmp_path / "home") for _ in range(2)]
    a, b = (_claimed(d) for d in drivers)
    assert not set(a) & set(b)
    assert sorted(a + b) == rids
    _check_acted_on_once(db_url, rids, inputs)


def _waiting_locks(url: str) -> int:
    with get_engine(url).connect() as conn:
        return conn.execute(
            text(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND pid IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database())"
            )
        ).scalar()


def test_two_drivers_waiting_on_the_same_request_act_on_it_once(pg_url, tmp_path):
    """The race forced on PostgreSQL: both drivers have listed the request and wait for its row lock."""
    get_engine(pg_url)
    inputs = _lat_runs(pg_url, tmp_path, [239557414])
    (rid,) = _request_all(pg_url, [239557414])
    home = tmp_path / "home"
    holder = _spawn(HOLDER, pg_url, home, str(rid))
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(holder.stdout.readline()))
    reader.start()
    reader.join(TIMEOUT)
    assert line == ["locked\n"], holder.stderr.read() if holder.poll() is not None else "holder silent"
    drivers = [_spawn(DRIVER, pg_url, home) for _ in range(2)]
    deadline = time.monotonic() + TIMEOUT
    while _waiting_locks(pg_url) < 2:
        assert time.monotonic() < deadline, "the drivers never both waited for the request"
        assert all(d.poll() is None for d in drivers), [d.communicate()[1][-3000:] for d in drivers]
        time.sleep(0.1)
    os.killpg(holder.pid, signal.SIGKILL)
    holder.wait()
    claimed = [_claimed(d) for d in drivers]
    assert sorted(claimed) == [[], [rid]]
    _check_acted_on_once(pg_url, [rid], inputs)


#: one operator's request for run argv[1]; prints "ok <id>" or "refused <reason>"
OPERATOR = """
import sys
from fermi_core.engine.rerun import RerunError, request_rerun
try:
    req = request_rerun(None, sys.argv[1], who=sys.argv[2], why="new calibration", origin="cli")
    print("ok", req.id)
except RerunError as exc:
    print("refused", exc)
"""


def test_operators_asking_at_once_record_one_request(db_url, tmp_path):
    """Four operators ask for the same run at the same moment: one request, three refusals."""
    get_engine(db_url)
    _lat_runs(db_url, tmp_path, [239557414])
    procs = [_spawn(OPERATOR, db_url, tmp_path / "home", "r0239557414", f"op{i}") for i in range(4)]
    outs = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
        assert proc.returncode == 0, stderr[-3000:]
        outs.append(stdout.strip().splitlines()[-1])
    assert sum(o.startswith("ok ") for o in outs) == 1, outs
    assert all("already requested" in o for o in outs if o.startswith("refused")), outs
    with session(db_url) as s:
        assert s.scalar(select(func.count()).select_from(RerunRequest)) == 1
