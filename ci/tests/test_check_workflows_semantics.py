"""Tests of ci/check_workflows.py beyond the schema: cron lines, scheduled jobs, make targets; the nightly."""

from __future__ import annotations

import shutil
from pathlib import Path

import check_workflows
import pytest
import yaml

from .conftest import ROOT


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / ".github" / "workflows", tmp_path / ".github" / "workflows")
    shutil.copy2(ROOT / "Makefile", tmp_path / "Makefile")
    return tmp_path / ".github" / "workflows"


def test_real_workflows_pass_the_semantic_checks():
    assert check_workflows.semantic_problems(ROOT) == []


def test_nightly_runs_a_flight_day_through_bench_chain_and_uploads_it():
    doc = yaml.safe_load((ROOT / ".github" / "workflows" / "nightly.yml").read_text())
    on = doc.get("on", doc.get(True))
    assert check_workflows.cron_problem(on["schedule"][0]["cron"]) is None
    assert "workflow_dispatch" in on
    (job,) = doc["jobs"].values()
    runs = " ".join(s.get("run", "") for s in job["steps"])
    assert "make bench-chain" in runs and "PROFILE=flight" in runs and "--json" in runs
    assert job["env"]["HOURS"].endswith("'24' }}")
    upload = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert upload and upload[0]["if"] == "always()" and upload[0]["with"]["path"] == "bench-output/"


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("17 3 * * *", None),
        ("0 1-5,7 */2 1 0", None),
        ("61 3 * * *", "minute '61' outside 0-59"),
        ("0 3 * *", "4 fields, expected 5"),
        ("0 3 * * mon-fri", "weekday 'mon-fri' is not"),
        ("0 24 * * *", "hour '24' outside 0-23"),
    ],
)
def test_cron_lines(line, problem):
    got = check_workflows.cron_problem(line)
    assert (got is None) if problem is None else (problem in got)


def test_unknown_make_target_is_caught(tmp_path: Path, capsys):
    folder = _copy(tmp_path)
    nightly = folder / "nightly.yml"
    nightly.write_text(nightly.read_text().replace("make bench-chain HOURS", "make bench-chian HOURS"))
    assert check_workflows.main(["--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert ".github/workflows/nightly.yml: job 'bench-chain': 'make bench-chian' is not a target" in err
    assert "ci.yml" not in err


def test_removed_makefile_target_is_caught(tmp_path: Path):
    _copy(tmp_path)
    make = tmp_path / "Makefile"
    make.write_text(make.read_text().replace("bench-chain: venv", "bench_chain: venv"))
    problems = check_workflows.semantic_problems(tmp_path)
    assert problems == [
        ".github/workflows/nightly.yml: job 'bench-chain': 'make bench-chain' is not a target of the Makefile"
    ]


def test_scheduled_job_needs_a_timeout_and_a_manual_trigger(tmp_path: Path):
    folder = _copy(tmp_path)
    nightly = folder / "nightly.yml"
    text = nightly.read_text().replace("    timeout-minutes: 240\n", "", 1)
    text = text.replace("  workflow_dispatch:\n", "  push:\n", 1)
    nightly.write_text(text)
    problems = check_workflows.semantic_problems(tmp_path)
    assert any("cannot be run by hand" in p for p in problems)
    assert any("job 'bench-chain' of a scheduled workflow has no timeout-minutes" in p for p in problems)


def test_bad_cron_is_caught(tmp_path: Path):
    folder = _copy(tmp_path)
    nightly = folder / "nightly.yml"
    nightly.write_text(nightly.read_text().replace('cron: "17 3 * * *"', 'cron: "17 3 * *"'))
    problems = check_workflows.semantic_problems(tmp_path)
    assert problems == [
        ".github/workflows/nightly.yml: cron '17 3 * *': 4 fields, expected 5 (minute hour day month weekday)"
    ]


def test_without_a_makefile_targets_are_not_checked(tmp_path: Path):
    _copy(tmp_path)
    (tmp_path / "Makefile").unlink()
    assert check_workflows.semantic_problems(tmp_path) == []
