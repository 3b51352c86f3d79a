"""Re-run leftovers: ``.rerun-<id>/`` folders reported with size and age, cleaned only when their request is done."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from fermi_core.db import get_engine, session_scope
from fermi_core.engine.models import RerunRequest
from fermi_isoc.cli import main
from fermi_isoc.retention import clean_reruns, rerun_folders

KEY = "r0239557414"
DAY = 86400.0


def _request(url: str, state: str) -> int:
    with session_scope(url) as s:
        req = RerunRequest(run=KEY, requested_by="ops", reason="new calibration", origin="cli",
                                   state=state)  # fmt: skip
        s.add(req)
        s.flush()
        return req.id


def _aside(folder: Path, files: dict[str, bytes], age_days: float) -> Path:
    """A ``.rerun-<id>`` folder holding ``files``, last changed ``age_days`` ago."""
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    t = time.time() - age_days * DAY
    for p in [folder, *folder.rglob("*")]:
        os.utime(p, (t, t))
    return folder


@pytest.fixture
def leftovers(db, tmp_path):
    """Folders of a done request (old, in work/ and inputs/), a done one (recent), pending ones, an unknown one."""
    l1 = tmp_path / "home" / "l1"
    done, queued, requested, recent = (_request(db.url, st) for st in ("done", "queued", "requested", "done"))
    work, inputs = l1 / "work" / KEY, l1 / "inputs"
    current = work / "c0000-k000.parquet"  # the recomputed output next to the folders: never touched
    current.parent.mkdir(parents=True)
    current.write_bytes(b"new crumb")
    folders = {
        "done-work": _aside(work / f".rerun-{done}", {"c0000-k000.parquet": b"c" * 3000}, 40),
        "done-inputs": _aside(inputs / f".rerun-{done}", {f"{KEY}/run.json": b"{}", f"{KEY}/m.parquet": b"m" * 998}, 40),
        "queued": _aside(work / f".rerun-{queued}", {"c0000-k000.parquet": b"q" * 10}, 45),
        "requested": _aside(inputs / f".rerun-{requested}", {f"{KEY}/run.json": b"{}"}, 50),
        "recent": _aside(work / f".rerun-{recent}", {"c0000-k000.parquet": b"r" * 10}, 5),
        "unknown": _aside(work / ".rerun-999", {"c0000-k000.parquet": b"u" * 10}, 90),
    }  # fmt: skip
    return l1, folders, current, {"done": done, "queued": queued, "requested": requested, "recent": recent}


def test_folders_are_found_with_size_age_and_request_state(db, leftovers):
    l1, folders, _, ids = leftovers
    with Session(get_engine(db.url)) as s:
        found = {f.path: f for f in rerun_folders(s, l1)}
    assert set(found) == set(folders.values())
    done = found[folders["done-inputs"]]
    assert (done.request_id, done.request_state, done.n_files, done.n_bytes) == (ids["done"], "done", 2, 1000)
    assert done.age_days == pytest.approx(40, abs=0.01)
    assert found[folders["queued"]].request_state == "queued"
    assert found[folders["unknown"]].request_state is None
    assert {f.path for f in found.values() if f.removable(30)} == {
        folders["done-work"],
        folders["done-inputs"],
    }


def test_check_reports_them_and_clean_removes_only_done_and_old(db, leftovers, capsys):
    l1, folders, current, ids = leftovers
    assert main(["retention", "check", "--archive", str(l1.parent / "tape")]) == 1  # overdue re-run folders
    out = capsys.readouterr().out
    assert (
        f"RERUN-OVERDUE {folders['done-work']}: 3.0 kB in 1 files, 40.0 days old, request {ids['done']} done"
        in out
    )
    assert (
        f"RERUN-OUTPUTS {folders['queued']}: 10 B in 1 files, 45.0 days old, request {ids['queued']} queued"
        in out
    )
    assert f"RERUN-OUTPUTS {folders['unknown']}: 10 B in 1 files, 90.0 days old, request 999 unknown" in out
    assert "re-run folders: 6 (4.0 kB), 2 of done requests older than 30 days (4.0 kB)" in out

    assert main(["retention", "clean-reruns"]) == 2
    assert "clean-reruns needs --older-than DAYS" in capsys.readouterr().out
    assert main(["retention", "clean-reruns", "--older-than", "30", "--dry-run"]) == 0
    assert "re-run folders: 2 would remove (4.0 kB), 4 kept" in capsys.readouterr().out
    assert all(p.exists() for p in folders.values())

    assert main(["retention", "clean-reruns", "--older-than", "30"]) == 0
    out = capsys.readouterr().out
    assert "re-run folders: 2 removed (4.0 kB), 4 kept, 0 errors" in out
    assert f"kept {folders['queued']}: request {ids['queued']} is queued (pending)" in out
    assert f"kept {folders['requested']}: request {ids['requested']} is requested (pending)" in out
    assert f"kept {folders['recent']}: 5.0 days old, not older than 30" in out
    assert f"kept {folders['unknown']}: request 999 is not in the database" in out
    gone = {folders["done-work"], folders["done-inputs"]}
    assert {p for p in folders.values() if not p.exists()} == gone
    assert current.read_bytes() == b"new crumb"  # the live outputs beside them are untouched
    assert main(["retention", "check", "--archive", str(l1.parent / "tape")]) == 0  # nothing overdue left
    # a shorter age removes the recent done one, never the pending ones
    with session_scope(db.url) as s:
        result = clean_reruns(s, l1, older_than_days=1)
    assert [f.path for f in result.removed] == [folders["recent"]]
    assert all(folders[k].exists() for k in ("queued", "requested", "unknown"))
    with session_scope(db.url) as s, pytest.raises(ValueError, match="older_than_days must be positive"):
        clean_reruns(s, l1, older_than_days=0)


def _request_of(url: str, run: str, state: str, step: str | None = None) -> int:
    with session_scope(url) as s:
        req = RerunRequest(run=run, step=step, requested_by="ops", reason="fix", origin="cli", state=state)
        s.add(req)
        s.flush()
        return req.id


def test_a_failed_request_keeps_its_folder_until_a_later_rerun_of_the_same_subject_is_done(db, tmp_path):
    """The outputs moved aside by a failed re-run are the last ones made before it: kept while it is the latest."""
    l1 = tmp_path / "home" / "l1"
    work = l1 / "work" / KEY
    crumb = f"recon/{KEY}.c0000.k000"
    step_failed = _request_of(db.url, crumb, "failed", step="recon")
    run_failed = _request_of(db.url, KEY, "failed")
    other_failed = _request_of(db.url, "r0239999999", "failed")
    folders = {
        rid: _aside(work / f".rerun-{rid}", {"c0000-k000.parquet": b"x" * 10}, 40)
        for rid in (step_failed, run_failed, other_failed)
    }
    with session_scope(db.url) as s:
        result = clean_reruns(s, l1, older_than_days=30)
    assert result.removed == []
    kept = {f.request_id: why for f, why in result.kept}
    assert kept[step_failed] == (
        f"request {step_failed} failed: these are the outputs from before it, kept until a later re-run of "
        f"{crumb} is done"
    )
    assert kept[run_failed].startswith(f"request {run_failed} failed:") and kept[run_failed].endswith(
        f"{KEY} is done"
    )
    # a later whole-run re-run of the LAT run is done: both failed requests of that run are replaced
    later = _request_of(db.url, KEY, "done")
    with Session(get_engine(db.url)) as s:
        found = {f.request_id: f for f in rerun_folders(s, l1)}
    assert (found[step_failed].replaced_by, found[run_failed].replaced_by) == (later, later)
    assert found[other_failed].replaced_by is None  # another LAT run's request is not replaced by it
    with session_scope(db.url) as s:
        result = clean_reruns(s, l1, older_than_days=30)
    assert sorted(f.request_id for f in result.removed) == [step_failed, run_failed]
    assert [f.request_id for f, _ in result.kept] == [other_failed]
    assert folders[other_failed].exists() and not folders[step_failed].exists()
