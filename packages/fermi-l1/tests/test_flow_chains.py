"""The driver loop the L1 flow runs its per-run chains on (:func:`fermi_core.engine.driver.run_jobs`).

Toy tasks registered by entry point (as in fermi-core's engine tests): a chain's next job starts as
soon as its own task runs are final, ahead of the waiting task runs of lower priority; a failed
chain does not stop the others; every attempt is recorded as by ``process``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from fermi_core.db import session_scope
from fermi_core.engine import LocalExecutor, State, TaskAttempt, TaskRun, registry
from fermi_core.engine.driver import Job, run_jobs
from fermi_core.engine.testing import write_task_distribution
from fermi_core.site import Site

DATE = "2024-05-01T12:00:00"

TOY = '''
"""Toy tasks for the driver-loop tests."""
from dataclasses import dataclass
from pathlib import Path

from fermi_core.engine.registry import TaskSpec
from fermi_core.errors import BadInput


@dataclass(frozen=True)
class StepParams:
    out: str
    mode: str = "ok"


def step(params, ctx):
    out = Path(params.out)
    if params.mode == "bad":
        raise BadInput(f"{out}: bad")
    if params.mode == "crash-once":
        marker = out.with_name(out.name + ".tried")
        if not marker.exists():
            marker.write_text("")
            raise RuntimeError("node lost once")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(ctx.key)
    return [str(out)]


PIECE = TaskSpec("chainpiece", step, StepParams)
FINISH = TaskSpec("chainfinish", step, StepParams)
'''


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """A toy distribution registering the tasks ``chainpiece`` and ``chainfinish``."""
    lib = write_task_distribution(
        tmp_path / "lib", "fermi_chaintoy", TOY, {"chainpiece": "PIECE", "chainfinish": "FINISH"}
    )
    monkeypatch.syspath_prepend(str(lib))
    registry.refresh()
    import fermi_chaintoy

    yield fermi_chaintoy
    monkeypatch.delitem(__import__("sys").modules, "fermi_chaintoy")
    registry.refresh()


@pytest.fixture
def site(tmp_path):
    return Site(tmp_path / "home")


@pytest.fixture
def executor():
    pool = LocalExecutor(max_workers=1)
    yield pool
    pool.shutdown()


@dataclass
class Chains:
    """Two chains of pieces then a finish step, and what their callbacks saw."""

    toy: object
    out: Path
    seen: dict[str, dict[str, str]]

    def chain(self, name: str, modes: list[str], rank: int) -> Job:
        params = self.toy.StepParams  # type: ignore[attr-defined]

        def finish(states: dict[str, str]) -> list[Job]:
            self.seen[name] = states
            if any(state != State.DONE for state in states.values()):
                return []
            item = (f"{name}.finish", params(out=str(self.out / f"{name}.finish")))
            return [Job("chainfinish", [item], date=DATE, priority=(0, rank))]

        items = [
            (f"{name}.p{i}", params(out=str(self.out / f"{name}.p{i}"), mode=m)) for i, m in enumerate(modes)
        ]
        return Job("chainpiece", items, date=DATE, priority=(1, rank), then=finish)


def _submission_order(site: Site) -> list[str]:
    with session_scope(site.db_url) as s:
        rows = s.execute(select(TaskRun.key).join(TaskAttempt).order_by(TaskAttempt.id)).all()
    return [key for (key,) in rows]


def test_a_chain_next_job_goes_before_the_waiting_pieces_of_other_chains(toy, site, executor, tmp_path):
    c = Chains(toy, tmp_path / "out", {})
    jobs = [c.chain("a", ["ok", "ok"], 0), c.chain("b", ["ok", "ok", "ok"], 1)]
    summaries = run_jobs(site, jobs, executor, slots=1)
    # no barrier: a's finish step is submitted as soon as a's pieces are done, before b's pieces
    assert _submission_order(site) == ["a.p0", "a.p1", "a.finish", "b.p0", "b.p1", "b.p2", "b.finish"]
    assert summaries["chainpiece"].done == 5 and summaries["chainfinish"].done == 2
    assert c.seen["a"] == {"a.p0": "done", "a.p1": "done"}
    assert (tmp_path / "out" / "b.finish").read_text() == "b.finish"
    again = run_jobs(
        site, [c.chain("a", ["ok", "ok"], 0), c.chain("b", ["ok", "ok", "ok"], 1)], executor, slots=1
    )
    assert again["chainpiece"].skipped == 5 and again["chainfinish"].skipped == 2  # idempotent re-run
    assert len(_submission_order(site)) == 7  # no new attempt


def test_a_failed_chain_does_not_stop_the_others_and_crashes_are_retried(toy, site, executor, tmp_path):
    c = Chains(toy, tmp_path / "out", {})
    jobs = [c.chain("a", ["ok", "bad"], 0), c.chain("b", ["crash-once", "ok"], 1)]
    summaries = run_jobs(site, jobs, executor, max_attempts=3, slots=None)
    assert c.seen["a"]["a.p1"] == "failed" and "a.finish" not in _submission_order(site)
    assert (tmp_path / "out" / "b.finish").is_file()
    pieces = summaries["chainpiece"]
    assert (pieces.done, pieces.failed, pieces.crashed) == (3, 1, 1)
    with session_scope(site.db_url) as s:
        states = [a.state for a in s.scalars(select(TaskAttempt).join(TaskRun).where(TaskRun.key == "b.p0"))]
    assert states == ["crashed", "done"]


def test_a_job_without_items_goes_straight_to_its_next_job(toy, site, executor, tmp_path):
    c = Chains(toy, tmp_path / "out", {})
    summaries = run_jobs(site, [c.chain("a", [], 0)], executor)
    assert c.seen["a"] == {}  # the callback is told (the L1 flow holds such a run back as blocked)
    assert set(summaries) == {"chainfinish"} and summaries["chainfinish"].done == 1
