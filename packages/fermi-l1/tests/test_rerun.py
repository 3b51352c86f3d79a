"""Re-run requests: recorded with who/why, consumed by the next driver pass, marked done with attempts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fermi_core.engine import rerun
from fermi_core.engine.models import (
    RerunRequest,
    Task,
    TaskAttempt,
    TaskRun,
)
from fermi_core.engine.registry import get_task
from fermi_l1 import synthetic
from fermi_l1.catalog.models import Dataset
from fermi_l1.cli import main
from fermi_l1.db import session
from fermi_l1.pipeline.inputs import write_run_inputs

RUN = 239557414
KEY = f"r{RUN:010d}"


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


def _inputs(home: Path, duration: float = 120.0) -> Path:
    samples = synthetic.spacecraft_samples(RUN - 5.0, duration + 10.0)
    t0, t1 = RUN + 0.5, RUN + duration
    merit = synthetic.merit_table(samples, t0, t1, 200, seed=RUN % 97)
    chunks = [{k: v[:100] for k, v in merit.items()}, {k: v[100:] for k, v in merit.items()}]
    return write_run_inputs(home / "l1" / "inputs" / KEY, RUN, t0, t1, samples, chunks)


def _url(home: Path) -> str:
    return f"sqlite:///{home / 'fermi.db'}"


def _cli(home: Path, *extra: str) -> list[str]:
    return ["--home", str(home), "--db-url", _url(home), *extra]


def _pipeline(home: Path) -> int:
    return main(
        _cli(home, "pipeline", "--workers", "1", "--no-progress", "--processing-date", "2024-05-01T12:00:00")
    )


def _products(home: Path) -> dict[str, bytes]:
    return {
        p.relative_to(home).as_posix(): p.read_bytes()
        for p in sorted((home / "l1" / "products").rglob("*.fit"))
    }


def _request(url: str, rid: int) -> RerunRequest:
    with session(url) as s:
        req = s.get(RerunRequest, rid)
        s.expunge(req)
    return req


def _attempts(url: str) -> list[tuple[int, int, str]]:
    with session(url) as s:
        return [(a.id, a.number, a.state) for a in s.scalars(select(TaskAttempt).order_by(TaskAttempt.id))]


def test_failed_run_is_rerun_through_a_request_and_ends_done(tmp_path, capsys):
    home, url = tmp_path, _url(tmp_path)
    folder = _inputs(home)
    good = {p: p.read_bytes() for p in (folder / "merit").glob("*.parquet")}
    for chunk in good:
        chunk.write_bytes(b"garbage")
    assert _pipeline(home) == 1  # bad input: failed, not retried
    assert [s for _, _, s in _attempts(url)] == ["failed"]

    # the input is fixed, but a failed run stays failed until someone asks for a re-run
    for chunk, data in good.items():
        chunk.write_bytes(data)
    assert _pipeline(home) == 0
    assert len(_attempts(url)) == 1 and _products(home) == {}

    # unknown run: refused, with the reason
    assert main(_cli(home, "rerun", "r0000000001", "--who", "alice", "--why", "merit re-delivered")) == 1
    assert "refused: no task run 'r0000000001'" in capsys.readouterr().out
    with pytest.raises(rerun.RerunError, match="no task run 'l1run/r9'") as exc:
        rerun.request_rerun(url, "l1run/r9", who="alice", why="typo", origin="cli")
    assert exc.value.status == 404
    with pytest.raises(rerun.RerunError, match="has no step 'digi': its steps are l1run"):
        rerun.request_rerun(url, KEY, "digi", who="alice", why="no such step", origin="cli")
    with pytest.raises(rerun.RerunError, match="a reason"):
        rerun.request_rerun(url, KEY, who="alice", why="", origin="cli")

    argv = _cli(home, "rerun", str(RUN), "--step", "l1run", "--who", "alice", "--why", "merit re-delivered")
    assert main(argv) == 0
    out = capsys.readouterr().out
    rid = int(out.split("request ")[1].split()[0])
    assert f"step l1run of {KEY} by alice: merit re-delivered" in out
    req = _request(url, rid)
    assert (req.run, req.step, req.requested_by, req.reason, req.origin, req.state) == (
        KEY, "l1run", "alice", "merit re-delivered", "cli", "requested",
    )  # fmt: skip
    # a second request for the same run while the first is pending is refused
    with pytest.raises(rerun.RerunError, match=f"already requested \\(request {rid} by alice\\)"):
        rerun.request_rerun(url, f"l1run/{KEY}", who="bob", why="me too", origin="cli")

    assert _pipeline(home) == 0
    attempts = _attempts(url)
    assert [(n, s) for _, n, s in attempts] == [(1, "failed"), (2, "done")]
    req = _request(url, rid)
    assert (req.state, req.outcome, json.loads(req.attempt_ids)) == ("done", "done", [attempts[1][0]])
    assert req.queued_at is not None and req.done_at >= req.queued_at
    first = _products(home)
    assert len(first) == 5
    with pytest.raises(rerun.RerunError, match="step l1run of r0239557414 is done: only a failed or crashed"):
        rerun.request_rerun(url, KEY, "l1run", who="alice", why="again", origin="cli")

    # done work of a catalogued version is not redone in place (fermi_l1.pipeline.rerun_guard):
    # refused up front, naming reprocess; nothing moved, nothing requeued, the catalog unchanged
    for what in (f"l1run/{KEY}", KEY):
        with pytest.raises(
            rerun.RerunError, match=f"LAT run {KEY} v001 has catalogued products .*fermi-l1 reprocess"
        ):
            rerun.request_rerun(url, what, who="bob", why="check reproducibility", origin="web")
    capsys.readouterr()  # what the passes above printed
    assert main(_cli(home, "rerun", KEY, "--who", "bob", "--why", "new calibration")) == 1
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith(
        "fermi-l1 rerun: refused: LAT run r0239557414 v001 has catalogued"
    )
    assert f"'fermi-l1 reprocess --runs {RUN} --why TEXT'" in out
    assert _pipeline(home) == 0
    assert len(_attempts(url)) == 2 and _products(home) == first
    with session(url) as s:
        assert s.scalar(select(func.count()).select_from(Dataset)) == 6  # 5 products + MONITOR
        assert s.scalars(select(TaskRun.state)).all() == ["done"]


def _chain(url: str, tmp_path: Path) -> dict[str, Path]:
    """Task runs of one LAT run's chain as the flow leaves them: two crumbs, a run input, an L1 run."""
    paths = {
        "c0": tmp_path / "work" / KEY / "c0000-k000.parquet",
        "c1": tmp_path / "work" / KEY / "c0000-k001.parquet",
        "input": tmp_path / "inputs" / KEY,
    }
    for name in ("c0", "c1"):
        paths[name].parent.mkdir(parents=True, exist_ok=True)
        paths[name].write_bytes(b"crumb")
    paths["input"].mkdir(parents=True)
    (paths["input"] / "run.json").write_text("{}")
    other = tmp_path / "inputs" / "r0239560000"
    other.mkdir()
    (other / "run.json").write_text("{}")
    rows = [
        ("recon", f"{KEY}.c0000.k000", "done", {"out": str(paths["c0"])}),
        ("recon", f"{KEY}.c0000.k001", "failed", {"out": str(paths["c1"])}),
        ("runinput", KEY, "done", {"input_dir": str(paths["input"])}),
        ("l1run", KEY, "done", {"input_dir": str(paths["input"])}),
        ("l1run", "r0239560000", "failed", {"input_dir": str(other)}),
    ]
    with session(url) as s:
        tasks = {}
        for task, key, state, params in rows:
            if task not in tasks:
                tasks[task] = Task(name=task, max_attempts=2)
                s.add(tasks[task])
                s.flush()
            run = TaskRun(task_pk=tasks[task].id, key=key, state=state, params=_stored(task, **params),
                              processing_date="2024-05-01T12:00:00")  # fmt: skip
            s.add(run)
            s.flush()
            for n in (1, 2):
                s.add(TaskAttempt(run_pk=run.id, number=n, state=state, executor="local",
                                      driver_host="h", driver_pid=1))  # fmt: skip
    return paths


def _states(url: str) -> dict[str, str]:
    with session(url) as s:
        rows = s.execute(select(Task.name, TaskRun.key, TaskRun.state).join(Task, Task.id == TaskRun.task_pk))
        return {f"{t}/{k}": st for t, k, st in rows}


def _set(url: str, state: str, *names: str) -> None:
    with session(url) as s:
        for name in names:
            task, _, key = name.partition("/")
            run = s.scalars(select(TaskRun).join(Task).where(Task.name == task, TaskRun.key == key)).one()
            run.state = state


def test_whole_lat_run_requeues_its_chain_in_order_and_keeps_old_outputs(tmp_path):
    url = f"sqlite:///{tmp_path / 'fermi.db'}"
    paths = _chain(url, tmp_path)
    req = rerun.request_rerun(url, KEY, who="carol", why="new calibration", origin="cli")
    step = rerun.request_rerun(url, "r0239560000", "l1run", who="carol", why="fixed", origin="cli")
    assert rerun.claim_pending(url) == [req.id, step.id]
    states = _states(url)
    chain = [f"recon/{KEY}.c0000.k000", f"recon/{KEY}.c0000.k001", f"runinput/{KEY}", f"l1run/{KEY}"]
    assert [states[k] for k in chain] == ["queued"] * 4
    # intermediate outputs are moved aside (kept), so the tasks really recompute them
    for name in ("c0", "c1", "input"):
        assert not paths[name].exists()
        assert (paths[name].parent / f".rerun-{req.id}" / paths[name].name).exists()
    # each stage gets its requeued runs once their inputs are ready
    assert [k for k, _ in rerun.requeued_items(url, "recon")] == [f"{KEY}.c0000.k000", f"{KEY}.c0000.k001"]
    assert rerun.requeued_items(url, "runinput") == []  # crumbs not done yet
    assert [k for k, _ in rerun.requeued_items(url, "l1run")] == ["r0239560000"]  # KEY has no run.json
    assert rerun.requeued_items(url, "recon", exclude={f"{KEY}.c0000.k000"})[0][0] == f"{KEY}.c0000.k001"
    _set(url, "done", *chain[:2])
    assert [k for k, _ in rerun.requeued_items(url, "runinput")] == [KEY]
    # the retry budget restarts at the re-run: 2 attempts before it do not count
    with session(url) as s:
        run_pk = s.scalar(select(TaskRun.id).where(TaskRun.key == KEY).limit(1))
        assert rerun.attempt_base(s, run_pk) == 2
    assert rerun.settle(url) == []  # runinput and l1run still queued
    _set(url, "done", *chain[2:])
    _set(url, "failed", "l1run/r0239560000")
    assert rerun.settle(url) == [req.id, step.id]
    done = _request(url, req.id)
    assert (done.state, done.outcome, done.attempt_ids) == ("done", "done", "[]")
    assert _request(url, step.id).outcome == "1 of 1 not done: l1run/r0239560000 failed"


def test_a_request_overtaken_by_events_is_refused_by_the_driver(tmp_path):
    url = f"sqlite:///{tmp_path / 'fermi.db'}"
    _chain(url, tmp_path)
    req = rerun.request_rerun(url, "l1run/r0239560000", "l1run", who="dave", why="retry", origin="web")
    _set(url, "running", "l1run/r0239560000")
    with pytest.raises(rerun.RerunError, match="is running"):
        rerun.request_rerun(url, "l1run/r0239560000", who="erin", why="retry", origin="web")
    assert rerun.claim_pending(url) == []
    refused = _request(url, req.id)
    assert refused.state == "refused" and "is running" in refused.outcome
