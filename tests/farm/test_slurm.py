"""L1 through Parsl's SlurmProvider on the test cluster: job ids, batch failures, products.

Each test is one ``fermi-l1 pipeline --config farm.toml`` pass on a copy of the merged data
home (see ``conftest.py``); the job ids and the time each pass took are printed to the CI log.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from .conftest import SLURM_SH, block_job_ids, copy_home, farm_toml, products


def _report(capsys: pytest.CaptureFixture, text: str) -> None:
    with capsys.disabled():
        print(f"\n[farm] {text}")


def _ops_page_links_logs(home: Path, attempts: list[dict]) -> None:
    """The ISOC run page of each attempt's task run links its log, and the link serves it."""
    from fastapi.testclient import TestClient

    from fermi_isoc.web.app import Settings, create_app

    app = create_app(Settings(db_url=f"sqlite:///{home / 'fermi.db'}", home=str(home)))
    client = TestClient(app, base_url="http://127.0.0.1:8080")  # a trusted host
    for a in attempts:
        page = client.get(f"/runs/{a['task']}/{a['key']}")
        assert page.status_code == 200, page.text
        link = f"/runs/{a['task']}/{a['key']}/log/{a['task']}/{a['number']}"
        assert f'href="{link}"' in page.text and f"<td>{a['batch_id']}</td>" in page.text
        log = client.get(link)
        assert log.status_code == 200 and f"in batch job {a['batch_id']}" in log.text, log.text[:500]


def test_l1_on_slurm_records_job_ids_and_matches_the_local_pool(
    cluster, merged_home, local_products, tmp_path, farm_pass, capsys
):
    home = copy_home(merged_home, tmp_path / "home")
    run = farm_pass(home, farm_toml(tmp_path / "farm.toml", cluster))
    rc, out = run.finish()
    assert rc == 0, out
    assert "fermi-l1 pipeline: recon: 4 done, 0 failed, 0 retried" in out
    assert "fermi-l1 pipeline: 2 done, 0 failed, 0 retried" in out
    assert products(home) == local_products  # byte for byte, same processing date

    attempts = run.attempts()
    jobs = block_job_ids(home)
    assert len(attempts) == 8 and all(a["state"] == "done" and a["number"] == 1 for a in attempts)
    # each attempt records the Slurm job it ran in (SLURM_JOB_ID of the worker), one of Parsl's blocks
    assert all(re.fullmatch(r"\d+", a["batch_id"]) for a in attempts), attempts
    assert {a["batch_id"] for a in attempts} <= jobs, (attempts, jobs)
    # Parsl's run directory, the batch scripts and the worker logs are under the data home
    batch = home / "l1" / "batch"
    scripts = list(batch.glob("*/submit_scripts/parsl.fermi.block-*[0-9]"))
    assert scripts and all(f"#SBATCH --partition={cluster.partition}" in s.read_text() for s in scripts)
    commands = list(batch.glob("*/submit_scripts/cmd_parsl.fermi.block-*.sh"))
    assert commands and all("env FERMI_FARM_TEST=1 process_worker_pool.py" in c.read_text() for c in commands)
    assert list(batch.glob("fermi/block-*/*/worker_0.log"))
    for a in attempts:
        assert not Path(a["log_path"]).is_absolute() and (home / a["log_path"]).is_file()
    _ops_page_links_logs(home, attempts[:1] + attempts[-1:])
    _report(capsys, f"clean pass: {len(attempts)} attempts in Slurm jobs "
                    f"{', '.join(sorted({a['batch_id'] for a in attempts}, key=int))}; "
                    f"blocks {', '.join(sorted(jobs, key=int))}; {run.seconds:.0f} s; products equal to the local pool's")  # fmt: skip


def test_cancelled_job_and_lost_node_are_crashed_attempts_retried(
    cluster, merged_home, local_products, tmp_path, farm_pass, capsys
):
    home = copy_home(merged_home, tmp_path / "home")
    run = farm_pass(home, farm_toml(tmp_path / "farm.toml", cluster))

    # 1. scancel the job of the first recon attempt seen running (a fresh worker's first task takes seconds)
    victim = run.wait_for("a recon attempt running in a batch job",
                          lambda a: a["task"] == "recon" and a["state"] == "running" and a["batch_id"])  # fmt: skip
    cancelled_job = victim["batch_id"]
    cluster.run("scancel", cancelled_job)

    # 2. lose the node while an l1run attempt runs: slurmd, its step daemons and the jobs' processes die
    lost = run.wait_for("an l1run attempt running in a batch job",
                        lambda a: a["task"] == "l1run" and a["state"] == "running" and a["batch_id"])  # fmt: skip
    lost_job = lost["batch_id"]
    cluster.run("bash", str(SLURM_SH), "kill-node", cluster.folder)
    t_lost = time.monotonic()
    deadline = t_lost + 120
    while cluster.job_state(lost_job) == "RUNNING" and time.monotonic() < deadline:
        time.sleep(1)  # the controller declares the node down after SlurmdTimeout without an answer
    noticed = time.monotonic() - t_lost
    cluster.run("bash", str(SLURM_SH), "start-node", cluster.folder)  # the node reboots and comes back

    rc, out = run.finish()
    assert rc == 0, out
    assert products(home) == local_products
    assert cluster.job_state(cancelled_job) == "CANCELLED"
    assert cluster.job_state(lost_job) == "NODE_FAIL"

    attempts = run.attempts()
    by_key: dict[tuple[str, str], list[dict]] = {}
    for a in attempts:
        by_key.setdefault((a["task"], a["key"]), []).append(a)
    for victim_attempt, job in ((victim, cancelled_job), (lost, lost_job)):
        tries = by_key[(victim_attempt["task"], victim_attempt["key"])]
        first = next(a for a in tries if a["id"] == victim_attempt["id"])
        assert first["state"] == "crashed" and first["batch_id"] == job, tries
        assert first["exit_code"] is None and "ManagerLost" in (first["error"] or ""), first
        retry = tries[-1]
        assert (
            retry["state"] == "done" and retry["number"] == first["number"] + 1 and retry["batch_id"] != job
        )
    assert all(ts[-1]["state"] == "done" for ts in by_key.values())
    crashed = [a for a in attempts if a["state"] == "crashed"]
    # every crashed attempt ran in the cancelled job or in a job of the lost node (all jobs there died)
    for a in crashed:
        assert a["batch_id"] == cancelled_job or cluster.job_state(a["batch_id"]) == "NODE_FAIL", a
    assert re.search(r"recon: 4 done, 0 failed, [1-9] retried", out), out
    assert re.search(r"fermi-l1 pipeline: 2 done, 0 failed, [1-9] retried", out), out
    _ops_page_links_logs(home, crashed)
    _report(capsys, f"faults pass: job {cancelled_job} cancelled (recon {victim['key']}), "
                    f"node lost under job {lost_job} (l1run {lost['key']}, NODE_FAIL after {noticed:.0f} s); "
                    f"{len(crashed)} crashed attempts in jobs {sorted({a['batch_id'] for a in crashed}, key=int)} "
                    f"retried in jobs {sorted({ts[-1]['batch_id'] for ts in by_key.values()}, key=int)}; "
                    f"{run.seconds:.0f} s; products equal to the local pool's")  # fmt: skip


def test_bad_input_on_slurm_fails_once_and_is_not_retried(
    cluster, merged_home, local_products, tmp_path, farm_pass, capsys
):
    home = copy_home(merged_home, tmp_path / "home")
    (merged,) = sorted((home / "runs" / "524669463").glob("*.arrow"))  # the one-file run
    data = bytearray(merged.read_bytes())
    data[len(data) // 2] ^= 0xFF  # its SHA-256 no longer matches the halfpipe's record
    merged.write_bytes(bytes(data))
    run = farm_pass(home, farm_toml(tmp_path / "farm.toml", cluster))
    rc, out = run.finish()
    assert rc == 1, out
    assert "recon: 3 done, 1 failed, 0 retried" in out, out
    assert "run(s) 524669463 wait for failed crumbs" in out, out

    attempts = run.attempts()
    bad = [a for a in attempts if a["key"].startswith("r0524669463")]
    assert len(bad) == 1, bad  # one attempt, never retried
    (a,) = bad
    assert a["task"] == "recon" and a["state"] == "failed" and a["exit_code"] == 2
    assert re.fullmatch(r"\d+", a["batch_id"]) and merged.name in a["error"], a
    # the other run is untouched by the failure: its products are the local pool's
    other = {p: h for p, h in products(home).items() if "r0524669480" in p}
    assert other and other == {p: h for p, h in local_products.items() if "r0524669480" in p}
    assert not (home / "l1" / "products" / "r0524669463").exists()
    _report(capsys, f"bad-input pass: recon {a['key']} failed once in job {a['batch_id']} ({a['error'][:90]}...); "
                    f"{run.seconds:.0f} s")  # fmt: skip
