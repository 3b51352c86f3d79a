"""The L1 chain's re-run rule: done work of a catalogued version is refused (reprocess), failed steps are not."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from fermi_core.db import session_scope
from fermi_core.engine import rerun
from fermi_core.engine.models import RerunRequest, Task, TaskRun
from fermi_core.engine.registry import get_task
from fermi_l1.catalog.models import Dataset
from fermi_l1.pipeline.rerun_guard import version_of_key

RUN = 239557414
KEY = f"r{RUN:010d}"
#: placeholder parameters of the L1 tasks (task runs made by hand; their outputs do not exist)
_PARAMS = {
    "recon": {"merged": "", "sha256": "", "lo": 0, "hi": 1, "run": 0, "spacecraft": [], "out": "none/c.parquet"},
    "runinput": {"run": 0, "start": 0.0, "stop": 0.0, "chunks": [], "spacecraft": [], "merged": [],
                 "input_dir": "none/input"},
    "l1run": {"input_dir": "none/input", "products_dir": "", "outbox": ""},
}  # fmt: skip


def _params(task: str) -> str:
    spec = get_task(task)
    return spec.dump(spec.load(_PARAMS[task]))


def test_version_of_key():
    assert version_of_key(KEY) == (RUN, 1)
    assert version_of_key(f"{KEY}.c0000.k001") == (RUN, 1)
    assert version_of_key(f"{KEY}.v002") == (RUN, 2)
    assert version_of_key(f"{KEY}.v002.c0001.k000") == (RUN, 2)
    assert version_of_key("ingest-260324001") is None


def _world(url: str, v2_crumb: str = "failed") -> None:
    """v001 of the run done and catalogued; v002 planned with a crumb in state ``v2_crumb``."""
    rows = [
        ("recon", f"{KEY}.c0000.k000", "done"), ("runinput", KEY, "done"), ("l1run", KEY, "done"),
        ("recon", f"{KEY}.v002.c0000.k000", v2_crumb), ("runinput", f"{KEY}.v002", "cancelled"),
        ("l1run", f"{KEY}.v002", "cancelled"),
    ]  # fmt: skip
    with session_scope(url) as s:
        tasks = {}
        for task, key, state in rows:
            if task not in tasks:
                tasks[task] = Task(name=task, max_attempts=2)
                s.add(tasks[task])
                s.flush()
            s.add(TaskRun(task_pk=tasks[task].id, key=key, state=state, params=_params(task),
                          processing_date="2024-05-01T12:00:00"))  # fmt: skip
        for data_type in ("FT1", "FT2"):
            s.add(Dataset(logical_path=f"/L1/{data_type}/{KEY}", file_path=f"l1/products/{KEY}/{data_type}.fit",
                          data_type=data_type, version=1, run=RUN, met_start=RUN, met_stop=RUN + 100.0, size=1,
                          checksum="0" * 64, creator="test", provenance="{}"))  # fmt: skip


def test_a_catalogued_run_is_refused_up_front_and_a_failed_step_is_still_rerun(db_url):
    _world(db_url)
    for what in (KEY, str(RUN), f"l1run/{KEY}", f"recon/{KEY}.c0000.k000"):
        with pytest.raises(rerun.RerunError) as exc:
            rerun.request_rerun(db_url, what, who="ops", why="new calibration", origin="cli")
        assert str(exc.value) == (
            f"LAT run {KEY} v001 has catalogued products (FT1, FT2), which are never remade in place: make the "
            f"next version with 'fermi-l1 reprocess --runs {RUN} --why TEXT' (a re-run is for a failed or "
            "crashed step: --step)"
        )
        assert exc.value.status == 409
    # the failed crumb of the next version (not catalogued) may be re-run, with its cancelled later steps
    req = rerun.request_rerun(db_url, KEY, "recon", who="ops", why="merged file restored", origin="cli")
    assert rerun.claim_pending(db_url) == [req.id]
    with session_scope(db_url) as s:
        states = dict(
            s.execute(select(TaskRun.key, TaskRun.state).where(TaskRun.key.like(f"{KEY}.v002%"))).all()
        )
    assert set(states.values()) == {"queued"}
    # so may one TASK/KEY of it
    with session_scope(db_url) as s:
        for r in s.scalars(select(TaskRun).where(TaskRun.key.like(f"{KEY}.v002%"))):
            r.state = "failed"
        s.get(RerunRequest, req.id).state = "done"
    assert rerun.request_rerun(
        db_url, f"recon/{KEY}.v002.c0000.k000", who="ops", why="again", origin="cli"
    ).id


def test_a_request_recorded_before_its_version_was_catalogued_is_refused_at_claim(db_url):
    _world(db_url, v2_crumb="done")
    with session_scope(db_url) as s:  # recorded before the guard existed (or raced the catalog)
        s.add(
            RerunRequest(
                run=KEY, step=None, requested_by="ops", reason="old", origin="cli", state="requested"
            )
        )
    assert rerun.claim_pending(db_url) == []
    with session_scope(db_url) as s:
        req = s.scalars(select(RerunRequest)).one()
        assert req.state == "refused" and "has catalogued products" in req.outcome
        assert set(s.scalars(select(TaskRun.state))) <= {"done", "cancelled"}
