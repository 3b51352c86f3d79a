"""Pipeline driver: full runs, a real process kill and restart, retries, Parsl, Slurm script."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from fermi_core.engine.executors import ExecutorConfig
from fermi_core.engine.models import TaskAttempt
from fermi_l1 import synthetic
from fermi_l1.catalog.models import Dataset
from fermi_l1.cli import main
from fermi_l1.db import session
from fermi_l1.pipeline.inputs import write_run_inputs

RUNS = (239557414, 239560000, 239563000)


def _make_inputs(home: Path, runs=RUNS, duration=120.0) -> None:
    for run in runs:
        samples = synthetic.spacecraft_samples(run - 5.0, duration + 10.0)
        t0, t1 = run + 0.5, run + duration
        merit = synthetic.merit_table(samples, t0, t1, 200, seed=run % 97)
        chunks = [{k: v[:100] for k, v in merit.items()}, {k: v[100:] for k, v in merit.items()}]
        write_run_inputs(home / "l1" / "inputs" / f"r{run:010d}", run, t0, t1, samples, chunks)


def _products(home: Path) -> dict[str, bytes]:
    return {
        p.relative_to(home).as_posix(): p.read_bytes()
        for p in sorted((home / "l1" / "products").rglob("*.fit"))
    }


def _cli(home: Path, *extra: str) -> list[str]:
    args = ["--home", str(home), "--db-url", f"sqlite:///{home / 'fermi.db'}", *extra]
    return [*args, "--processing-date", "2024-05-01T12:00:00"] if "pipeline" in extra else args


def test_pipeline_processes_every_run_then_skips_finished_work(tmp_path, capsys):
    _make_inputs(tmp_path, RUNS[:2])
    assert main(_cli(tmp_path, "pipeline", "--workers", "2", "--no-progress")) == 0
    assert "2 done, 0 failed" in capsys.readouterr().out
    products = _products(tmp_path)
    assert len(products) == 10  # 2 runs x (pt1s, pt, xp, ph, ev)
    outbox = sorted(p.name for p in (tmp_path / "outbox").iterdir())
    assert outbox == ["r0239557414_v001", "r0239560000_v001"]
    assert main(_cli(tmp_path, "pipeline", "--no-progress")) == 0
    assert "2 already finished" in capsys.readouterr().out
    assert _products(tmp_path) == products
    assert main(_cli(tmp_path, "catalog", "--type", "FT1", "--met-max", "239559000")) == 0
    out = capsys.readouterr().out
    assert "/Data/Flight/Level1/LPA/FT1/r0239557414" in out and "1 product(s)" in out
    with session(f"sqlite:///{tmp_path / 'fermi.db'}") as s:
        attempts = list(s.scalars(select(TaskAttempt)))
        assert [a.state for a in attempts] == ["done", "done"]
        assert all(a.exit_code == 0 and a.host and a.log_path and a.ended_at for a in attempts)


def test_bad_input_fails_without_retry(tmp_path, capsys):
    _make_inputs(tmp_path, RUNS[:1])
    for chunk in (tmp_path / "l1" / "inputs" / f"r{RUNS[0]:010d}" / "merit").glob("*.parquet"):
        chunk.write_bytes(b"garbage")
    assert main(_cli(tmp_path, "pipeline", "--no-progress")) == 1
    with session(f"sqlite:///{tmp_path / 'fermi.db'}") as s:
        attempts = list(s.scalars(select(TaskAttempt)))
        assert len(attempts) == 1 and attempts[0].state == "failed" and attempts[0].exit_code == 2
        assert attempts[0].error.startswith("MeritError: ") and "chunk0000.parquet" in attempts[0].error


@pytest.mark.slow
def test_killed_pipeline_restarts_to_identical_products_and_no_duplicates(tmp_path):
    reference, victim = tmp_path / "reference", tmp_path / "victim"
    _make_inputs(reference)
    _make_inputs(victim)
    assert main(_cli(reference, "pipeline", "--workers", "1", "--no-progress")) == 0
    code = "import sys; from fermi_l1.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *_cli(victim, "pipeline", "--workers", "1", "--no-progress")],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    engine = create_engine(f"sqlite:///{victim / 'fermi.db'}")
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:  # kill once the first run is done and the second in flight
            time.sleep(0.2)
            try:
                with engine.connect() as conn:
                    states = [
                        r[0] for r in conn.execute(text("SELECT state FROM pipeline_attempt ORDER BY id"))
                    ]
            except Exception:
                continue
            if states[:1] == ["done"] and len(states) >= 2:
                break
        else:
            pytest.fail("pipeline did not reach the second run in time")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    engine.dispose()
    assert main(_cli(victim, "pipeline", "--workers", "1", "--no-progress")) == 0
    # the same products, byte for byte, and one catalog row per product
    assert _products(victim) == _products(reference)
    with session(f"sqlite:///{victim / 'fermi.db'}") as s:
        n_rows = s.scalar(select(func.count()).select_from(Dataset))
        n_distinct = s.scalar(select(func.count(func.distinct(Dataset.logical_path))))
        attempts = list(s.scalars(select(TaskAttempt).order_by(TaskAttempt.id)))
    assert n_rows == n_distinct == 6 * len(RUNS)  # 5 products + the MONITOR file per run
    assert any(a.state == "crashed" for a in attempts)
    assert sorted((victim / "outbox").iterdir()) != [] and not list((victim / "outbox").glob(".*"))
    # a re-run of the killed tree changes nothing
    before = _products(victim)
    assert main(_cli(victim, "pipeline", "--no-progress")) == 0
    assert _products(victim) == before


def test_slurm_configuration_renders_a_valid_submit_script(tmp_path):
    pytest.importorskip("parsl")
    from fermi_core.engine.executors import slurm_provider

    config = tmp_path / "farm.toml"
    config.write_text(
        '[executor]\nkind = "parsl"\nprovider = "slurm"\nworker_init = "source /opt/conda/bin/activate fermi"\n'
        '[slurm]\npartition = "milano"\naccount = "fermi:l1"\nwalltime = "00:30:00"\nnodes_per_block = 2\n'
    )
    cfg = ExecutorConfig.from_toml(config)
    provider = slurm_provider(cfg)
    provider.script_dir = str(tmp_path)
    captured = {}

    def fake_execute(cmd, timeout=None):
        captured["cmd"] = cmd
        return 0, "Submitted batch job 4242", ""

    provider.execute_wait = fake_execute
    job_id = provider.submit("process_worker_pool.py --foo", tasks_per_node=1, job_name="l1.test")
    assert job_id == "4242" and captured["cmd"].startswith("sbatch")
    script = Path(captured["cmd"].split()[-1]).read_text()
    assert script.startswith("#!/bin/bash")
    for line in ("#SBATCH --partition=milano", "#SBATCH --account=fermi:l1", "#SBATCH --nodes=2",
                 "#SBATCH --time=30", "source /opt/conda/bin/activate fermi"):  # fmt: skip
        assert line in script, line
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0
    bad = tmp_path / "bad.toml"
    bad.write_text('[executor]\nkind = "lsf-ish"\n')
    with pytest.raises(ValueError, match=r"bad\.toml: executor\.kind"):
        ExecutorConfig.from_toml(bad)
