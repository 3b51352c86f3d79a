"""A whole-run re-run whose recon crumb fails must not wedge the run (issue 17), on both backends.

Before: after a whole-LAT-run re-run whose recon crumb failed (bad input), the request stayed
``queued`` for good (its run input and L1 run waited for the crumb), every later pass reported the
crumb "already finished" and exited 1, and both a step re-run and a run re-run were refused
(``already queued`` / ``run ... is queued``), even after the input was fixed. Now the pass that
finds nothing of the request can run any more settles it ``failed`` with the reason (the run
input and L1 run given up, ``cancelled``), and once the input is fixed either re-run is accepted
and the next pass ends with the run done.

The chain is the real one: a short simulated delivery set, ingested, merged, and run through
``fermi-l1 pipeline``; the crumb's input (a merged file) is spoiled and then put back.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from sqlalchemy import select

from fermi_core.db import session_scope
from fermi_core.engine import RerunError, request_rerun
from fermi_core.engine.models import RerunRequest, Task, TaskRun
from fermi_halfpipe.cli import main as halfpipe
from fermi_ingest.cli import main as ingest
from fermi_l1.cli import main as l1
from fermi_latsim.simulate import SimulationConfig, simulate


def _run(fn, argv: list[str]) -> tuple[int, str]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        rc = fn(argv)
    return int(rc or 0), buf.getvalue()


def _pipeline() -> tuple[int, str]:
    return _run(l1, ["pipeline", "--from-halfpipe", "--no-progress", "--workers", "1"])


def _states(url: str, subject: str) -> dict[str, str]:
    with session_scope(url) as s:
        rows = s.execute(
            select(Task.name, TaskRun.key, TaskRun.state)
            .join(Task, Task.id == TaskRun.task_pk)
            .where(TaskRun.key.startswith(subject))
        ).all()
    return {f"{t}/{k}": st for t, k, st in rows}


def _request(url: str, rid: int) -> RerunRequest:
    with session_scope(url) as s:
        req = s.get(RerunRequest, rid)
        s.expunge(req)
    return req


@pytest.mark.parametrize("again", ["step", "run"])
def test_a_failed_crumb_in_a_whole_run_rerun_does_not_wedge_the_run(db_url, tmp_path, again):
    home = Path(tmp_path / "home")
    summary = simulate(home / "latsim", SimulationConfig(hours=0.1, seed=5))
    for d in summary["deliveries"]:
        assert _run(ingest, ["ingest", str(home / "latsim" / "deliveries" / d["delivery_id"])])[0] == 0
    for d in summary["deliveries"]:
        assert _run(halfpipe, ["merge", d["delivery_id"]])[0] == 0
    # one crumb of the first LAT run meets a spoiled merged file (bad input): the run is never
    # catalogued (a re-run of a catalogued run is refused: that is reprocessing's job)
    with session_scope(db_url) as s:
        assert s.scalars(select(Task)).first() is None
    from fermi_core.site import Site
    from fermi_halfpipe.published import retired_runs

    with session_scope(db_url) as s:
        first = retired_runs(s, Site(home, db_url))[0]
    subject = f"r{first.run_id:010d}"
    merged = home / first.files[0].relpath
    good = merged.read_bytes()
    merged.write_bytes(good[:100] + bytes(len(good) - 100))
    rc, out = _pipeline()
    assert rc == 1, (rc, out)
    with session_scope(db_url) as s:
        crumb = s.scalars(
            select(TaskRun)
            .join(Task)
            .where(Task.name == "recon", TaskRun.key.startswith(f"{subject}."), TaskRun.state == "failed")
        ).first()
        crumb_name = f"recon/{crumb.key}"

    # the whole run is re-run while its input is still spoiled: the crumb fails again
    req = request_rerun(db_url, subject, who="ops", why="new calibration", origin="cli")
    rc, out = _pipeline()
    assert rc == 1, (rc, out)
    states = _states(db_url, subject)
    assert states[crumb_name] == "failed"
    for later in (f"runinput/{subject}", f"l1run/{subject}"):
        assert states.get(later, "cancelled") == "cancelled", states
    settled = _request(db_url, req.id)
    assert settled.state == "failed", (settled.state, settled.outcome)
    assert f"{crumb_name} failed" in settled.outcome

    # a later pass: the run waits for its failed crumb (exit 1), nothing is left queued
    rc, out = _pipeline()
    assert rc == 1 and "wait for failed crumbs" in out, (rc, out)
    assert _request(db_url, req.id).state == "failed"
    assert "queued" not in _states(db_url, subject).values()

    # the input is fixed: a re-run is accepted (either kind) and the next pass ends with the run done
    merged.write_bytes(good)
    if again == "step":
        rc, out = _run(
            l1, ["rerun", subject, "--step", "recon", "--who", "ops", "--why", "merged file restored"]
        )
    else:
        rc, out = _run(l1, ["rerun", subject, "--who", "ops", "--why", "merged file restored"])
    assert rc == 0, (rc, out)
    rid = int(out.split("request ")[1].split()[0])
    with pytest.raises(RerunError, match="already requested"):  # one pending request at a time
        request_rerun(db_url, subject, who="ops", why="twice", origin="cli")
    rc, out = _pipeline()
    assert rc == 0, (rc, out)
    states = _states(db_url, subject)
    assert set(states.values()) == {"done"}, states
    done = _request(db_url, rid)
    assert (done.state, done.outcome) == ("done", "done")
    assert list((home / "l1" / "products").glob(f"{subject}/gll_ft1_*.fit")) or list(
        (home / "l1" / "products").rglob("*.fit")
    )
    # now catalogued: a whole-run re-run is refused, pointing to reprocessing
    with pytest.raises(RerunError, match="reprocess"):
        request_rerun(db_url, subject, who="ops", why="check", origin="cli")
