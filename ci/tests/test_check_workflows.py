"""Tests of ci/check_workflows.py: the GitHub workflows against check-jsonschema's builtin schema."""

from __future__ import annotations

import shutil
from pathlib import Path

import check_workflows

from .conftest import ROOT


def test_real_workflows_are_valid(capsys):
    names = {p.name for p in check_workflows.workflow_files(ROOT)}
    assert {"ci.yml", "release.yml", "lock.yml"} <= names
    assert check_workflows.check(ROOT) == []
    assert check_workflows.main(["--root", str(ROOT)]) == 0
    assert "GitHub workflows are valid" in capsys.readouterr().out


def test_missing_runs_on_is_caught(tmp_path: Path, capsys):
    folder = tmp_path / ".github" / "workflows"
    shutil.copytree(ROOT / ".github" / "workflows", folder)
    release = folder / "release.yml"
    release.write_text(release.read_text().replace("    runs-on: ubuntu-latest\n", "", 1))
    assert check_workflows.main(["--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert ".github/workflows/release.yml" in err
    assert "runs-on" in err
    assert "ci.yml" not in err


def test_no_workflow_is_an_error(tmp_path: Path):
    assert check_workflows.check(tmp_path) == [f"{tmp_path}/.github/workflows: no workflow file"]
