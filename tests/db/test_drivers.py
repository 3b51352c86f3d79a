"""One driver per data home, and what a killed driver leaves behind (issue 17), on both backends.

Before: two ``fermi-l1 pipeline`` drivers on one data home both ran the same crumbs, collided on
temporary folders, recorded crashed and "failed (bad input)" attempts, and some died with an
uncaught IntegrityError; killing only the driver left its pool workers running, and an attempt
a worker finished but the dead driver never recorded stayed ``crashed``. Now the second driver
exits at once with one line naming the holder (``fermi_core.engine.driver_lock``, exit code
``EXIT_DRIVER_BUSY``); pool workers die with their driver; the next pass records work finished
without a record (from the outputs' checksums), retries the rest and removes dead attempts'
temporary files.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from fermi_core.db import session_scope
from fermi_core.engine import EXIT_DRIVER_BUSY, DriverBusy, State, driver_lock
from fermi_core.engine.driver import recover_orphans
from fermi_core.engine.lock import holder_of
from fermi_core.engine.models import DriverLock, Task, TaskAttempt, TaskRun, utcnow
from fermi_core.engine.recovery import TEMP_NAMES, write_result
from fermi_core.site import Site
from fermi_halfpipe.cli import main as halfpipe
from fermi_ingest.cli import main as ingest
from fermi_l1.cli import main as l1
from fermi_latsim.simulate import SimulationConfig, simulate

TIMEOUT = 180

#: a driver that imports everything first, then waits for the start file (all drivers start together)
DRIVER = """
import sys, time
from pathlib import Path
import rich.progress, fermi_l1.pipeline.flow, fermi_core.engine.executors
from fermi_l1.cli import main
go = Path(sys.argv[1])
while not go.exists():
    time.sleep(0.005)
sys.exit(main(["pipeline", "--from-halfpipe", "--no-progress", "--workers", sys.argv[2]]))
"""


def _quiet(fn, argv: list[str]) -> int:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        return int(fn(argv) or 0)


def _merged_world(home: Path, hours: float = 0.1) -> None:
    """A simulated delivery set, ingested and merged: the L1 pass has recon crumbs to do."""
    summary = simulate(home / "latsim", SimulationConfig(hours=hours, seed=5))
    for d in summary["deliveries"]:
        assert _quiet(ingest, ["ingest", str(home / "latsim" / "deliveries" / d["delivery_id"])]) == 0
    for d in summary["deliveries"]:
        assert _quiet(halfpipe, ["merge", d["delivery_id"]]) == 0


def _driver(tmp_path: Path, go: Path, workers: int = 1) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(go), str(workers)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path, start_new_session=True,
    )  # fmt: skip


def _task_states(url: str) -> dict[str, str]:
    with session_scope(url) as s:
        rows = s.execute(select(Task.name, TaskRun.key, TaskRun.state).join(Task)).all()
    return {f"{t}/{k}": st for t, k, st in rows}


def _temps(home: Path) -> list[Path]:
    return [
        p for p in home.rglob(".*") if any(rx.match(p.name) for rx in TEMP_NAMES) and ".rerun-" not in str(p)
    ]


def test_two_drivers_at_once_one_runs_the_others_exit_with_one_line(db_url, tmp_path):
    home = tmp_path / "home"
    _merged_world(home)
    go = tmp_path / "go"
    drivers = [_driver(tmp_path, go) for _ in range(3)]
    time.sleep(1.0)
    go.touch()
    outs = [p.communicate(timeout=TIMEOUT)[0] for p in drivers]
    codes = [p.returncode for p in drivers]
    assert sorted(codes) == [0, EXIT_DRIVER_BUSY, EXIT_DRIVER_BUSY], list(zip(codes, outs, strict=True))
    for code, out in zip(codes, outs, strict=True):
        assert "IntegrityError" not in out and "Traceback" not in out, out
        if code == EXIT_DRIVER_BUSY:
            (line,) = out.strip().splitlines()
            assert line.startswith("fermi-l1 pipeline: another driver is at work on the data home ")
            assert " on host " in line and " pid " in line and " since " in line
    states = _task_states(db_url)
    assert states and set(states.values()) == {"done"}, states
    with session_scope(db_url) as s:  # each attempt ran once, and the lock was given back
        assert {st for (st,) in s.execute(select(TaskAttempt.state))} == {"done"}
        assert s.scalars(select(TaskAttempt.number)).all() == [1] * len(states)
    assert holder_of(Site.from_env(home=home, db_url=db_url)) is None


def test_the_lock_names_its_holder_and_a_dead_or_silent_holder_is_taken_over(db_url, tmp_path):
    site = Site.from_env(home=tmp_path / "home", db_url=db_url)
    with driver_lock(site, "fermi-l1 pipeline") as lease:
        with pytest.raises(DriverBusy, match=rf"fermi-l1 pipeline on host \S+ pid {os.getpid()} since "):
            with driver_lock(site, "another"):
                pass
        assert holder_of(site).token == lease.token
    assert holder_of(site) is None
    # a holder whose pid is gone on this host: taken over at once
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(gone.stdout)
    with session_scope(db_url) as s:
        s.add(DriverLock(name="pipeline", holder="killed", home=str(site.home), host=socket.gethostname(),
                         pid=dead_pid, token="x" * 32, started_at=utcnow(), heartbeat_at=utcnow()))  # fmt: skip
    with driver_lock(site, "next") as lease:
        assert holder_of(site).holder == "next"
    # a holder on another host whose heartbeat stopped: taken over after the staleness limit
    with session_scope(db_url) as s:
        old = utcnow() - timedelta(minutes=5)
        s.add(DriverLock(name="pipeline", holder="far", home="/elsewhere", host="no-such-host.example",
                         pid=1, token="y" * 32, started_at=old, heartbeat_at=utcnow()))  # fmt: skip
    with pytest.raises(DriverBusy, match=r"far on host no-such-host\.example pid 1"):
        with driver_lock(site, "next"):
            pass
    with session_scope(db_url) as s:
        s.execute(DriverLock.__table__.update().values(heartbeat_at=utcnow() - timedelta(minutes=5)))
    with driver_lock(site, "next", heartbeat=0.05) as lease:
        time.sleep(0.3)  # renewed meanwhile
        assert (utcnow() - holder_of(site).heartbeat_at.replace(tzinfo=utcnow().tzinfo)).total_seconds() < 5
        assert lease.holder == "next"


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_driver_killed_alone_leaves_no_worker_and_the_next_pass_makes_the_state_consistent(
    db_url, tmp_path
):
    home = tmp_path / "home"
    _merged_world(home, hours=0.2)
    go = tmp_path / "go"
    driver = _driver(tmp_path, go, workers=2)
    go.touch()
    deadline = time.monotonic() + TIMEOUT
    running = []
    while not running and time.monotonic() < deadline and driver.poll() is None:
        with session_scope(db_url) as s:
            running = s.scalars(
                select(TaskAttempt.id).join(TaskRun).join(Task)
                .where(Task.name == "recon", TaskAttempt.state == State.RUNNING.value)
            ).all()  # fmt: skip
        time.sleep(0.02)
    assert running, driver.communicate()[0]
    workers = _children(driver.pid)
    assert workers
    os.kill(driver.pid, signal.SIGKILL)  # the driver only, not its process group
    driver.wait(timeout=30)
    deadline = time.monotonic() + 20
    while any(_running(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [w for w in workers if _running(w)], "pool workers outlived their driver"

    # the next pass: the dead driver's lock is taken over, its attempts settled, the work finished
    assert _quiet(l1, ["pipeline", "--from-halfpipe", "--no-progress", "--workers", "1"]) == 0
    states = _task_states(db_url)
    assert set(states.values()) == {"done"}, states
    with session_scope(db_url) as s:
        attempts = s.scalars(select(TaskAttempt)).all()
        assert not [a.id for a in attempts if a.state in (State.QUEUED.value, State.RUNNING.value)]
        assert {a.state for a in attempts} <= {State.DONE.value, State.CRASHED.value}
    site = Site.from_env(home=home, db_url=db_url)
    assert not site.scratch.is_dir() or not list(site.scratch.iterdir())
    assert _temps(home) == []
    assert holder_of(site) is None


def test_work_a_dead_driver_never_recorded_is_recorded_from_the_outputs_checksums(db_url, tmp_path):
    site = Site.from_env(home=tmp_path / "home", db_url=db_url)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead = int(gone.stdout)
    outputs = {}
    with session_scope(db_url) as s:
        task = Task(name="recon", max_attempts=3)
        s.add(task)
        s.flush()
        for i, case in enumerate(("finished", "changed", "unfinished")):
            run = TaskRun(task_pk=task.id, key=f"r0000000001.c0000.k{i:03d}", state="running", params="{}",
                          processing_date="2024-05-01T12:00:00")  # fmt: skip
            s.add(run)
            s.flush()
            log = site.logs / f"recon-{run.key}.attempt1.log"
            a = TaskAttempt(run_pk=run.id, number=1, state="running", executor="local", driver_host=socket.gethostname(),
                            driver_pid=dead, log_path=site.relative(log), started_at=utcnow())  # fmt: skip
            s.add(a)
            s.flush()
            out = site.l1_work / f"{case}.parquet"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(case.encode())
            if case != "unfinished":
                write_result(site, log, a.id, [str(out)])
            if case == "changed":
                out.write_bytes(b"someone else's bytes")
            outputs[case] = (run.id, str(out))
        # a scratch folder and an atomic writer's temporary file left by the killed attempts
        (site.attempt_scratch(a.id) / "x").mkdir(parents=True)
        stray = site.l1_work / ".finished.parquet.abcd1234.tmp"
        stray.write_bytes(b"partial")
    assert recover_orphans(db_url, site) == 3
    with session_scope(db_url) as s:
        got = {
            case: (s.get(TaskRun, rid).state, s.get(TaskRun, rid).attempts[0])
            for case, (rid, _) in outputs.items()
        }
        assert got["finished"][0] == "done" and json.loads(got["finished"][1].outputs) == [
            outputs["finished"][1]
        ]
        assert got["finished"][1].exit_code == 0
        assert got["changed"][0] == got["unfinished"][0] == "crashed"
    assert not stray.exists() and not site.attempt_scratch(a.id).exists()
