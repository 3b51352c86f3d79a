"""Reprocessing through the commands: every run gets its next version, nothing catalogued changes.

After a software change (a reconstruction constant, changed here), ``fermi-l1 reprocess --all``
makes version 2 of every run beside version 1; ``fermi-l1 catalog verify`` passes after every
step; the outbox exports match their manifests and v002's says what it supersedes. A reprocess
killed with SIGKILL mid-way and then resumed ends in the same catalog rows and checksums as an
uninterrupted one; ``catalog verify`` then exits non-zero on a changed or a missing file.
``fermi-l1 validate`` of the campaign against v001 reports the change; a version compared with
itself reports no difference.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from fermi_halfpipe.cli import main as halfpipe
from fermi_ingest.cli import main as ingest
from fermi_l1.cli import main as l1
from fermi_l1.db import session
from fermi_latsim.simulate import SimulationConfig, simulate

HOURS = 0.05
FIRST_DATE = "2024-05-01T12:00:00"
SECOND_DATE = "2024-06-01T12:00:00"
#: the "software change": fewer leakage-correction iterations change every event's ENERGY
CHANGED = {"ENERGY_ITERATIONS": 3}
#: a fresh interpreter with the changed software, running ``fermi-l1`` with argv[1:]
CHANGED_L1 = f"""
import sys
import fermi_l1.recon.params as P
for name, value in {CHANGED!r}.items():
    setattr(P, name, value)
from fermi_l1.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _run(fn, argv: list[str]) -> tuple[int, str]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        rc = fn(argv)
    return int(rc or 0), buf.getvalue()


def _chain(site: list[str], deliveries: Path, ids: list[str]) -> None:
    for did in ids:
        rc, out = _run(ingest, [*site, "ingest", str(deliveries / did)])
        assert rc == 0, out
    for did in ids:
        rc, out = _run(halfpipe, [*site, "merge", did])
        assert rc == 0, out
    argv = [
        *site,
        "pipeline",
        "--from-halfpipe",
        "--no-progress",
        "--workers",
        "1",
        "--processing-date",
        FIRST_DATE,
    ]
    rc, out = _run(l1, argv)
    assert rc == 0, out


def _verify(site: list[str]) -> None:
    rc, out = _run(l1, [*site, "catalog", "verify"])
    assert rc == 0 and " 0 problem(s)" in out, out


def _catalog(url: str) -> list[tuple]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT logical_path, version, file_path, checksum, size, supersedes, proc_ver, lost_events "
                 "FROM l1_catalog_dataset ORDER BY logical_path, version")
        ).all()  # fmt: skip
    engine.dispose()
    return [tuple(r) for r in rows]


def _manifests(home: Path) -> dict[str, dict]:
    return {
        p.parent.name: json.loads(p.read_text()) for p in sorted((home / "outbox").glob("*/manifest.json"))
    }


def _reprocess_argv(site: list[str]) -> list[str]:
    return [*site, "reprocess", "--all", "--why", "recon constant changed", "--who", "tester",
            "--processing-date", SECOND_DATE, "--no-progress", "--workers", "1"]  # fmt: skip


def test_reprocess_after_a_software_change_and_after_a_kill(db_url, tmp_path, monkeypatch):
    summary = simulate(tmp_path / "latsim", SimulationConfig(hours=HOURS, seed=5))
    ids = [d["delivery_id"] for d in summary["deliveries"]]
    deliveries = tmp_path / "latsim" / "deliveries"

    # --- reference: an uninterrupted reprocess, in this process (SQLite home) ---
    ref = tmp_path / "reference"
    ref_url = f"sqlite:///{ref / 'fermi.db'}"
    ref_site = ["--home", str(ref), "--db-url", ref_url]
    _chain(ref_site, deliveries, ids)
    _verify(ref_site)
    first = _catalog(ref_url)
    runs = sorted({lp.rsplit("/r", 1)[1] for lp, *_ in first})
    assert runs and {v for _, v, *_ in first} == {1}
    first_files = {fp: (ref / fp).read_bytes() for _, _, fp, *_ in first}
    home = tmp_path / "killed"  # the same chain on the database of db_url, before the software changes
    site = ["--home", str(home), "--db-url", db_url]
    _chain(site, deliveries, ids)
    _verify(site)
    assert _catalog(db_url) == first

    import fermi_l1.recon.params as P

    for name, value in CHANGED.items():
        monkeypatch.setattr(P, name, value)  # the local pool's forked workers see it too
    rc, out = _run(l1, _reprocess_argv(ref_site))
    assert rc == 0, out
    assert "campaign 1 (reprocess-1) done" in out, out
    _verify(ref_site)
    after = _catalog(ref_url)
    assert [r for r in after if r[1] == 1] == first  # version 1: same rows
    assert {fp: (ref / fp).read_bytes() for fp in first_files} == first_files  # ... and the same bytes
    v2 = [r for r in after if r[1] == 2]
    assert len(v2) == len(first)  # every product of every run got version 2
    assert all(r[5] == 1 and r[2].endswith(("_v002.fit", "_v002.parquet")) for r in v2)  # supersedes v001
    old = {lp: ck for lp, _, _, ck, *_ in first}
    assert any(old[lp] != ck for lp, _, _, ck, *_ in v2 if "/FT1/" in lp)  # the change shows in FT1
    manifests = _manifests(ref)
    for run in runs:
        new = manifests[f"r{run}_v002"]
        assert new["supersedes"]["export"] == f"r{run}_v001", new
        assert sorted(f["name"] for f in manifests[f"r{run}_v001"]["files"]) == new["supersedes"]["files"]
    # the campaign is recorded, and a finished one has nothing to resume
    rc, out = _run(l1, [*ref_site, "campaigns", "--runs"])
    assert rc == 0 and "reprocess-1" in out and "done" in out and "tester" in out, out
    with session(ref_url) as s:
        from fermi_l1.campaigns import list_campaigns, versions_of

        assert versions_of(s, "reprocess-1") == {int(r): 2 for r in runs}
        assert [c.state for c in list_campaigns(s)] == ["done"]
    rc, out = _run(l1, [*ref_site, "reprocess", "--resume", "1"])
    assert rc == 0 and "nothing to resume" in out, out
    _verify(ref_site)

    # release validation: the campaign against v001 reports the recon change (warn or reject, the
    # changed energies named); a version compared with itself reports no difference (accept)
    rc, out = _run(
        l1, [*ref_site, "validate", "--new-campaign", "reprocess-1", "--out", str(tmp_path / "val")]
    )
    assert rc in (1, 2), out
    verdict = json.loads((tmp_path / "val" / "verdict.json").read_text())
    assert not verdict["identical"] and verdict["events"]["changed_columns"].get("ENERGY", 0) > 0, verdict
    same = [*ref_site, "validate", "--runs", *runs, "--old-version", "1", "--new-version", "1"]
    rc, out = _run(l1, [*same, "--out", str(tmp_path / "self")])
    assert rc == 0 and "no difference; verdict accept" in out, out

    # --- the same reprocess killed with SIGKILL mid-way, then resumed ---
    env = {k: v for k, v in os.environ.items() if k not in ("FERMI_HOME", "FERMI_DB_URL")}
    proc = subprocess.Popen([sys.executable, "-c", CHANGED_L1, *_reprocess_argv(site)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 300
    while not list((home / "l1" / "work").glob("r*.v002/*.parquet")) and proc.poll() is None:
        assert time.monotonic() < deadline, "the reprocess made no crumb of version 2"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and its pool workers
    proc.wait(timeout=60)
    _verify(site)  # nothing catalogued was touched by the killed pass
    rc, out = _run(l1, [*site, "campaigns"])
    assert "running" in out, out  # killed before it finished
    done = subprocess.run([sys.executable, "-c", CHANGED_L1, *site, "reprocess", "--resume", "1", "--no-progress",
                           "--workers", "2"], env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "campaign 1 (reprocess-1) done" in done.stdout, done.stdout
    _verify(site)
    assert _catalog(db_url) == after
    assert _manifests(home) == manifests

    # ... and catalog verify fails (exit non-zero, naming each file) on a changed or a missing file
    changed, gone = (home / fp for _, _, fp, *_ in after[:2])
    changed.write_bytes(changed.read_bytes() + b"x")
    gone.unlink()
    rc, out = _run(l1, [*site, "catalog", "verify"])
    assert rc != 0 and f"{changed}: SHA-256 " in out and f"{gone}: missing" in out, out
    assert " 0 problem(s)" not in out, out
