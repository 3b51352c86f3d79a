"""The task engine on a toy task package: registration by entry point, runs, classification, retries, re-runs.

The toy package is written into ``tmp_path`` with its ``*.dist-info/entry_points.txt`` and put on
``sys.path``: the engine finds its tasks exactly as it finds those of the installed packages.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from fermi_core.db import session_scope
from fermi_core.engine import (
    LocalExecutor,
    RerunError,
    State,
    TaskAttempt,
    TaskRun,
    UnknownTask,
    claim_pending,
    get_task,
    outputs_of,
    process,
    registry,
    request_rerun,
    requeued_items,
    settle,
    tasks,
)
from fermi_core.engine.testing import write_task_distribution
from fermi_core.site import Site

DATE = "2024-05-01T12:00:00"

TOY = '''
"""Toy tasks for the engine's tests."""
import re
from dataclasses import dataclass
from pathlib import Path

from fermi_core.engine.registry import Chain, TaskSpec
from fermi_core.errors import BadInput


class ToyRefusal(Exception):
    """Bad input of the toy package that does not subclass BadInput (declared on the spec)."""


@dataclass(frozen=True)
class EchoParams:
    text: str
    out: str
    mode: str = "ok"


def echo(params, ctx):
    out = Path(params.out)
    if params.mode == "bad":
        raise BadInput(f"{out}: bad text")
    if params.mode == "refused":
        raise ToyRefusal(f"{out}: refused")
    if params.mode == "crash":
        raise RuntimeError("node lost")
    if params.mode == "crash-once":
        marker = out.with_name(out.name + ".tried")
        if not marker.exists():
            marker.write_text("")
            raise RuntimeError("node lost once")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(f"{params.text} {ctx.key} {ctx.processing_date} {ctx.site.home.name}")
    print("wrote", out)
    return [str(out)]


def batch_key(text):
    m = re.match(r"^b?(\\d{1,4})$", text)
    return None if m is None else f"b{int(m.group(1)):04d}"


BATCH = Chain("toy", ("toysplit", "toyjoin"), subject="batch", subject_key=batch_key, examples="b0001 or 1")


@dataclass(frozen=True)
class PieceParams:
    out: str


@dataclass(frozen=True)
class JoinParams:
    pieces: list
    out: str


def split(params, ctx):
    Path(params.out).write_text(ctx.key)
    return [params.out]


def join(params, ctx):
    Path(params.out).write_text("+".join(Path(p).read_text() for p in params.pieces))
    return [params.out]


ECHO = TaskSpec("toyecho", echo, EchoParams, label="toy echo", bad_input=(ToyRefusal,))
SPLIT = TaskSpec("toysplit", split, PieceParams, chain=BATCH, intermediate=lambda p: [p.out])
JOIN = TaskSpec("toyjoin", join, JoinParams, chain=BATCH, ready=lambda p, site: all(Path(x).exists() for x in p.pieces))
'''


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """The module of a toy distribution registering tasks ``toyecho``, ``toysplit``, ``toyjoin``."""
    lib = write_task_distribution(
        tmp_path / "lib", "fermi_toytasks", TOY, {"toyecho": "ECHO", "toysplit": "SPLIT", "toyjoin": "JOIN"}
    )
    monkeypatch.syspath_prepend(str(lib))
    registry.refresh()
    import fermi_toytasks

    yield fermi_toytasks
    monkeypatch.delitem(__import__("sys").modules, "fermi_toytasks")
    registry.refresh()


@pytest.fixture
def site(tmp_path):
    return Site(tmp_path / "home")


@pytest.fixture
def executor():
    pool = LocalExecutor(max_workers=1)
    yield pool
    pool.shutdown()


def _attempts(site: Site, key: str) -> list[TaskAttempt]:
    with session_scope(site.db_url) as s:
        rows = s.scalars(
            select(TaskAttempt).join(TaskRun).where(TaskRun.key == key).order_by(TaskAttempt.number)
        ).all()
        s.expunge_all()
    return list(rows)


def _run_state(site: Site, key: str) -> str:
    with session_scope(site.db_url) as s:
        return s.scalar(select(TaskRun.state).where(TaskRun.key == key))


def test_a_toy_task_registered_by_entry_point_runs_through_the_engine(toy, site, executor, tmp_path):
    assert {"toyecho", "toysplit", "toyjoin"} <= set(tasks())
    spec = get_task("toyecho")
    assert spec.function is toy.echo and spec.title == "toy echo"
    out = tmp_path / "out" / "a.txt"
    params = toy.EchoParams(text="hello", out=str(out))

    summary = process(site, "toyecho", [("a", params)], executor, date=DATE)
    assert (summary.done, summary.failed, summary.crashed, summary.skipped) == (1, 0, 0, 0)
    assert out.read_text() == f"hello a {DATE} home"
    (attempt,) = _attempts(site, "a")
    assert (attempt.state, attempt.exit_code, attempt.number, attempt.executor) == ("done", 0, 1, "local")
    assert json.loads(attempt.outputs) == [str(out)] == outputs_of(site.db_url, "toyecho", "a")
    assert attempt.host and attempt.pid and attempt.started_at and attempt.ended_at
    assert not Path(attempt.log_path).is_absolute()  # stored relative to the data home
    log = site.resolve(attempt.log_path)
    assert log.parent == site.logs and log.name == "toyecho-a.attempt1.log"
    assert f"wrote {out}" in log.read_text()
    with session_scope(site.db_url) as s:
        run = s.scalars(select(TaskRun).where(TaskRun.key == "a")).one()
        assert run.params == json.dumps({"mode": "ok", "out": str(out), "text": "hello"}, sort_keys=True)
        assert run.processing_date == DATE and run.task.name == "toyecho"

    # a finished task run is not done again
    again = process(site, "toyecho", [("a", params)], executor)
    assert (again.done, again.skipped) == (0, 1) and len(_attempts(site, "a")) == 1


@pytest.mark.parametrize(
    ("mode", "error"),
    [("bad", "BadInput: "), ("refused", "ToyRefusal: ")],
    ids=["BadInput subclass", "type declared by the task"],
)
def test_bad_input_fails_once_and_is_not_retried(toy, site, executor, tmp_path, mode, error):
    params = toy.EchoParams(text="x", out=str(tmp_path / "b.txt"), mode=mode)
    summary = process(site, "toyecho", [("b", params)], executor, max_attempts=3)
    assert (summary.done, summary.failed, summary.crashed) == (0, 1, 0)
    (attempt,) = _attempts(site, "b")
    assert (attempt.state, attempt.exit_code, attempt.outputs) == ("failed", 2, None)
    assert attempt.error.startswith(error)
    assert _run_state(site, "b") == State.FAILED
    assert outputs_of(site.db_url, "toyecho", "b") is None


def test_a_crash_is_retried_and_the_retry_succeeds(toy, site, executor, tmp_path):
    params = toy.EchoParams(text="y", out=str(tmp_path / "c.txt"), mode="crash-once")
    summary = process(site, "toyecho", [("c", params)], executor, max_attempts=3)
    assert (summary.done, summary.failed, summary.crashed) == (1, 0, 1)
    assert [(a.number, a.state, a.exit_code) for a in _attempts(site, "c")] == [
        (1, "crashed", 1),
        (2, "done", 0),
    ]
    assert "RuntimeError: node lost once" in _attempts(site, "c")[0].error


def test_crashes_stop_at_the_attempt_budget(toy, site, executor, tmp_path):
    params = toy.EchoParams(text="z", out=str(tmp_path / "d.txt"), mode="crash")
    summary = process(site, "toyecho", [("d", params)], executor, max_attempts=2)
    assert (summary.done, summary.failed, summary.crashed) == (0, 1, 1)
    assert [a.state for a in _attempts(site, "d")] == ["crashed", "crashed"]
    assert _run_state(site, "d") == State.FAILED


def test_unknown_tasks_and_parameters_are_refused_by_name(toy):
    with pytest.raises(UnknownTask, match=r"'nosuch' \(installed: .*toyecho"):
        get_task("nosuch")
    spec = get_task("toyecho")
    stored = spec.dump(toy.EchoParams(text="t", out="/o"))
    assert spec.load(stored) == toy.EchoParams(text="t", out="/o")
    with pytest.raises(ValueError, match="unknown parameter"):
        spec.load('{"text": "t", "out": "/o", "colour": "red"}')
    with pytest.raises(TypeError, match="must be EchoParams"):
        spec.dump({"text": "t"})


def test_a_chain_is_rerun_from_its_subject_without_the_engine_naming_a_task(toy, site, executor, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    pieces = [(f"b0001.p{i}", toy.PieceParams(out=str(work / f"p{i}.txt"))) for i in range(2)]
    assert process(site, "toysplit", pieces, executor).done == 2
    join = [("b0001", toy.JoinParams(pieces=[p.out for _, p in pieces], out=str(work / "joined.txt")))]
    assert process(site, "toyjoin", join, executor).done == 1
    assert (work / "joined.txt").read_text() == "b0001.p0+b0001.p1"

    with pytest.raises(RerunError, match=r"no task run 'x9': expected TASK/KEY .* or a batch \(b0001 or 1\)"):
        request_rerun(site.db_url, "x9", who="ops", why="typo", origin="cli")
    with pytest.raises(
        RerunError, match="batch b0001 has no step 'toyecho': its steps are toysplit, toyjoin"
    ):
        request_rerun(site.db_url, "1", "toyecho", who="ops", why="no such step", origin="cli")
    req = request_rerun(site.db_url, "1", who="ops", why="new calibration", origin="cli")
    assert req.run == "b0001" and req.state == "requested"
    assert claim_pending(site.db_url) == [req.id]
    # what the task declares as intermediate is moved aside, kept
    assert not (work / "p0.txt").exists() and (work / f".rerun-{req.id}" / "p0.txt").read_text() == "b0001.p0"
    # the join waits for the earlier task of its chain
    assert requeued_items(site.db_url, "toyjoin") == []
    split_again = requeued_items(site.db_url, "toysplit")
    assert [k for k, _ in split_again] == ["b0001.p0", "b0001.p1"] and split_again[0][1] == pieces[0][1]
    assert process(site, "toysplit", split_again, executor).done == 2
    assert [k for k, _ in requeued_items(site.db_url, "toyjoin")] == ["b0001"]
    assert process(site, "toyjoin", requeued_items(site.db_url, "toyjoin"), executor).done == 1
    assert settle(site.db_url) == [req.id]
    assert [a.number for a in _attempts(site, "b0001")] == [1, 2]


ENGINE = Path(__import__("fermi_core.engine", fromlist=["x"]).__file__).parent
STAGES = (
    "fermi_ingest",
    "fermi_halfpipe",
    "fermi_l1",
    "fermi_latsim",
    "fermi_isoc",
    "fermi_sciencetools_shim",
)
TASK_NAMES = ("ingest", "merge", "recon", "runinput", "l1run")


def _code_strings(tree: ast.AST) -> list[str]:
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
    }  # fmt: skip
    return [
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
        and id(n) not in docstrings
    ]  # fmt: skip


def test_the_engine_names_no_stage():
    files = sorted(p for p in ENGINE.rglob("*.py") if "versions" not in p.parts)
    assert len(files) >= 8
    for path in files:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not [n for n in names if n.split(".")[0] in STAGES], (
                f"{path}:{node.lineno} imports {names}"
            )
        words = {w for s in _code_strings(tree) for w in s.replace("/", " ").replace(".", " ").split()}
        assert not words & {*TASK_NAMES, *STAGES}, f"{path} names {words & {*TASK_NAMES, *STAGES}}"
