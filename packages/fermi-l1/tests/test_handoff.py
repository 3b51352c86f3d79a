"""The chain from telemetry deliveries to L1 products: inbox -> ingest -> halfpipe -> recon -> FT1/FT2.

Deliveries come from a short fermi-latsim simulation (about 6 minutes of LAT data: two runs, one
of them spread over three deliveries; 5 Hz spacecraft records with the orbit-invalid flag).
"""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from sqlalchemy import select

from fermi_core.engine.models import Task, TaskAttempt, TaskRun
from fermi_l1.cli import main
from fermi_l1.db import session
from fermi_l1.pipeline.crumbs import MIN_CRUMB_EVENTS, crumb_bounds

DATE = "2024-05-01T12:00:00"
MIN_CRUMB = "300"  # several crumbs per merged file even for a small run


@pytest.fixture(scope="module")
def deliveries(tmp_path_factory):
    """Three deliveries of a 0.1 h simulation and the simulator's summary."""
    simulate = pytest.importorskip("fermi_latsim.simulate")
    out = tmp_path_factory.mktemp("latsim")
    summary = simulate.simulate(out, simulate.SimulationConfig(hours=0.1, seed=1))
    return out / "deliveries", summary


def _cli(home: Path, *extra: str) -> list[str]:
    args = ["--home", str(home), "--db-url", f"sqlite:///{home / 'fermi.db'}", *extra]
    if "pipeline" in extra:
        args += ["--no-progress", "--processing-date", DATE, "--min-crumb", MIN_CRUMB]
    return args


def _products(home: Path) -> dict[str, bytes]:
    return {p.relative_to(home / "l1" / "products").as_posix(): p.read_bytes()
            for p in sorted((home / "l1" / "products").rglob("*.fit"))}  # fmt: skip


def _attempts(home: Path) -> list[tuple[str, str, str, int | None]]:
    with session(f"sqlite:///{home / 'fermi.db'}") as s:
        rows = s.execute(
            select(Task.name, TaskRun.key, TaskAttempt.state, TaskAttempt.exit_code)
            .join(TaskRun, TaskAttempt.run_pk == TaskRun.id)
            .join(Task, TaskRun.task_pk == Task.id)
            .order_by(TaskAttempt.id)
        ).all()
    return [tuple(r) for r in rows]


def _merge_by_hand(home: Path, source: Path, monkeypatch) -> None:
    """What ``make demo`` does before calling ``fermi-l1 pipeline``."""
    from fermi_halfpipe.cli import main as halfpipe
    from fermi_ingest.cli import main as ingest

    monkeypatch.setenv("FERMI_HOME", str(home))
    url = ["--db-url", f"sqlite:///{home / 'fermi.db'}"]
    for d in sorted(source.iterdir()):
        assert ingest([*url, "ingest", str(d)]) == 0
    for d in sorted(source.iterdir()):
        assert halfpipe([*url, "merge", d.name]) == 0


@pytest.fixture(scope="module")
def from_inbox(deliveries, tmp_path_factory):
    """A FERMI_HOME whose inbox got the deliveries, after one ``fermi-l1 pipeline``."""
    source, summary = deliveries
    home = tmp_path_factory.mktemp("home")
    shutil.copytree(source, home / "inbox")
    mp = pytest.MonkeyPatch()
    mp.setenv("FERMI_HOME", str(home))
    try:
        code = main(_cli(home, "pipeline", "--workers", "2"))
    finally:
        mp.undo()
    return home, summary, code


def test_crumbs_cover_a_chunk_with_geometric_sizes():
    bounds = crumb_bounds(30_000, min_crumb=1500)
    sizes = np.diff([b[0] for b in bounds] + [bounds[-1][1]])
    assert bounds[0][0] == 0 and bounds[-1][1] == 30_000 and len(bounds) == 20
    assert len(crumb_bounds(30_000)) == 30_000 // MIN_CRUMB_EVENTS
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    assert sizes.max() / sizes.min() == pytest.approx(1.5, rel=0.01)
    assert len(crumb_bounds(10**7)) == 45 and crumb_bounds(10) == [(0, 10)] and crumb_bounds(0) == []
    with pytest.raises(ValueError, match="min_crumb=0"):
        crumb_bounds(10, min_crumb=0)


def test_inbox_deliveries_become_l1_products_of_every_run(from_inbox):
    home, summary, code = from_inbox
    assert code == 0
    runs = [r["run"] for r in summary["runs"]]
    products = _products(home)
    assert len(products) == 5 * len(runs)
    for run in runs:
        assert sorted((home / "outbox" / f"r{run:010d}_v001").iterdir())
    attempts = _attempts(home)
    tasks = {t for t, *_ in attempts}
    assert tasks == {"ingest", "merge", "recon", "runinput", "l1run"}
    assert all(state == "done" and rc == 0 for _, _, state, rc in attempts)
    assert sum(t == "ingest" for t, *_ in attempts) == len(summary["deliveries"])
    assert sum(t == "l1run" for t, *_ in attempts) == len(runs)


def test_every_merged_event_reaches_the_extended_ft1_with_provenance(from_inbox):
    import fermi_halfpipe.models as hp

    home, summary, _ = from_inbox
    with session(f"sqlite:///{home / 'fermi.db'}") as s:
        files = s.scalars(
            select(hp.HalfpipeFile).order_by(hp.HalfpipeFile.run_id, hp.HalfpipeFile.first_gem)
        ).all()
        registered = {(f.run_id, f.path, f.sha256, f.n_events) for f in files}
    for r in summary["runs"]:
        run = r["run"]
        info = json.loads((home / "l1" / "inputs" / f"r{run:010d}" / "run.json").read_text())
        merged = info["provenance"]["merged_files"]
        assert {(run, m["relpath"], m["sha256"], m["n_events"]) for m in merged} <= registered
        assert sum(m["n_events"] for m in merged) == r["events"]
        assert info["provenance"]["spacecraft_files"] and info["start"] == run
        with fits.open(home / "l1" / "products" / f"r{run:010d}" / f"gll_xp_p305_r{run:010d}_v001.fit") as xp:
            ev = xp["EVENTS"].data
            assert len(ev) == r["events"]
            assert np.all(ev["RUN_ID"] == run)
            assert np.all((ev["TIME"] >= run) & (ev["TIME"] <= r["stop"]))
            tracked = np.isfinite(ev["RA"])
            assert tracked.mean() > 0.9
            # the attitude of the simulation: the boresight rocks about 50 deg from the zenith
            assert np.all(ev["ZENITH_ANGLE"][tracked] < 180.0)
        with fits.open(
            home / "l1" / "products" / f"r{run:010d}" / f"gll_pt1s_p310_r{run:010d}_v001.fit"
        ) as ft2:
            sc = ft2["SC_DATA"].data
            # positions from the 1 Hz orbit samples only (the 5 Hz records between are flagged, zero)
            np.testing.assert_allclose(np.linalg.norm(sc["SC_POSITION"], axis=1), 6.9e6, rtol=0.01)
            assert sc["LIVETIME"].sum() > 0.5 * (r["stop"] - r["start"])


def test_rerun_changes_nothing(from_inbox, capsys):
    home, _, _ = from_inbox
    before, attempts = _products(home), _attempts(home)
    assert main(_cli(home, "pipeline")) == 0
    out = capsys.readouterr().out
    assert "0 done, 0 failed, 0 retried, 2 already finished" in out
    assert _products(home) == before
    assert _attempts(home) == attempts


def test_from_halfpipe_like_the_demo_gives_the_same_bytes(
    deliveries, from_inbox, tmp_path, monkeypatch, capsys
):
    source, _summary = deliveries
    _merge_by_hand(tmp_path, source, monkeypatch)
    assert main(_cli(tmp_path, "pipeline", "--from-halfpipe")) == 0
    assert "fermi-l1 pipeline: 2 done, 0 failed" in capsys.readouterr().out
    assert _products(tmp_path) == _products(from_inbox[0])


def test_tampered_merged_file_fails_its_run_without_retry(deliveries, tmp_path, monkeypatch, capsys):
    source, summary = deliveries
    _merge_by_hand(tmp_path, source, monkeypatch)
    big = max(summary["runs"], key=lambda r: r["events"])["run"]
    victim = sorted((tmp_path / "runs" / str(big)).glob("*.arrow"))[0]
    victim.write_bytes(victim.read_bytes() + b"\0")
    assert main(_cli(tmp_path, "pipeline", "--from-halfpipe")) == 1
    out = capsys.readouterr().out
    assert f"run(s) {big} wait for failed crumbs" in out
    failed = [a for a in _attempts(tmp_path) if a[2] == "failed"]
    assert failed and all(
        t == "recon" and rc == 2 and key.startswith(f"r{big:010d}.c0000") for t, key, _, rc in failed
    )
    with session(f"sqlite:///{tmp_path / 'fermi.db'}") as s:
        errors = s.scalars(select(TaskAttempt.error).where(TaskAttempt.state == "failed")).all()
    assert all("differs from the recorded" in e and victim.name in e for e in errors)
    # the other run is complete; the tampered one has no products
    assert not (tmp_path / "l1" / "products" / f"r{big:010d}").exists()
    assert len(_products(tmp_path)) == 5 * (len(summary["runs"]) - 1)


@pytest.mark.requires_data
def test_products_made_from_halfpipe_output_match_real_files(from_inbox, shared_data, tmp_path):
    from fermi_sciencetools_shim.select.gtselect import gtselect

    home, summary, _ = from_inbox
    run = max(summary["runs"], key=lambda r: r["events"])["run"]
    folder = home / "l1" / "products" / f"r{run:010d}"
    photon = folder / f"gll_ph_p305_r{run:010d}_v001.fit"
    pairs = (
        ("gammapy_tests_fermi/ft1_00.fits", photon, ("EVENTS", "GTI")),
        (
            "pint/lat_spacecraft_weekly_w323_p202_v001.fits",
            folder / f"gll_pt_p310_r{run:010d}_v001.fit",
            ("SC_DATA",),
        ),
    )
    skip = ("T", "HISTORY", "COMMENT", "DS", "NDSKEYS", "CHECKSUM", "DATASUM")
    for real, ours, extensions in pairs:
        with fits.open(shared_data / real) as ref, fits.open(ours) as mine:
            for ext in extensions:
                r, o = ref[ext].columns, mine[ext].columns
                assert o.names[: len(r.names)] == r.names, (ours.name, ext)
                assert [c.format for c in o][: len(r)] == [c.format for c in r], (ours.name, ext)
                assert [c.unit for c in o][: len(r)] == [c.unit for c in r], (ours.name, ext)
            for ext in (0, *extensions):
                keys_r = {k for k in ref[ext].header if not k.startswith(skip)}
                keys_o = {k for k in mine[ext].header if not k.startswith(skip)}
                assert keys_r <= keys_o, (ours.name, ext, keys_r - keys_o)
    with fits.open(photon) as h:
        ev = h["EVENTS"].data
        expected = int(np.count_nonzero((ev["ENERGY"] > 100) & (ev["ZENITH_ANGLE"] <= 90)))
    result = gtselect(photon, tmp_path / "sel.fits", emin=100, emax=300000, zmax=90)
    assert result.n_events == expected


def test_parsl_backend_runs_the_same_pipeline(deliveries, from_inbox, tmp_path, monkeypatch, capsys):
    pytest.importorskip("parsl")
    source, _ = deliveries
    _merge_by_hand(tmp_path, source, monkeypatch)
    config = tmp_path / "parsl.toml"
    config.write_text(
        f'[executor]\nkind = "parsl"\nprovider = "local"\nmax_workers = 2\nrun_dir = "{tmp_path / "runinfo"}"\n'
        "heartbeat_period = 2\nheartbeat_threshold = 8\nstrategy_period = 1\n"  # short waits (CI time)
    )
    assert main(_cli(tmp_path, "pipeline", "--from-halfpipe", "--config", str(config))) == 0
    assert "fermi-l1 pipeline: 2 done, 0 failed" in capsys.readouterr().out
    assert _products(tmp_path) == _products(from_inbox[0])
    with session(f"sqlite:///{tmp_path / 'fermi.db'}") as s:
        attempts = s.scalars(select(TaskAttempt)).all()
    assert attempts and all(a.executor == "parsl" and a.batch_id.startswith("parsl-") for a in attempts)


@pytest.mark.slow
def test_killed_chain_restarts_to_identical_products(deliveries, from_inbox, tmp_path, monkeypatch):
    import os
    import signal
    import subprocess
    import sys
    import time

    from sqlalchemy import create_engine, func, text

    from fermi_l1.catalog.models import Dataset

    source, _ = deliveries
    _merge_by_hand(tmp_path, source, monkeypatch)
    code = "import sys; from fermi_l1.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *_cli(tmp_path, "pipeline", "--from-halfpipe", "--workers", "1")],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    engine = create_engine(f"sqlite:///{tmp_path / 'fermi.db'}")
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:  # kill in the middle of the recon crumbs
            time.sleep(0.1)
            try:
                with engine.connect() as conn:
                    states = [
                        r[0] for r in conn.execute(text("SELECT state FROM pipeline_attempt ORDER BY id"))
                    ]
            except Exception:
                continue
            if "done" in states and len(states) >= 3:
                break
        else:
            pytest.fail("the pipeline did not reach the recon crumbs in time")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    engine.dispose()
    assert main(_cli(tmp_path, "pipeline", "--from-halfpipe")) == 0
    assert _products(tmp_path) == _products(from_inbox[0])
    with session(f"sqlite:///{tmp_path / 'fermi.db'}") as s:
        n_rows = s.scalar(select(func.count()).select_from(Dataset))
        n_distinct = s.scalar(select(func.count(func.distinct(Dataset.logical_path))))
    assert n_rows == n_distinct == 12  # 2 runs x (5 products + the MONITOR file)
    assert any(state == "crashed" for _, _, state, _ in _attempts(tmp_path))
