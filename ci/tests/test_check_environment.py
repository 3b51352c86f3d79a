"""Tests of ci/check_environment.py: environment.yml must carry every run dependency."""

from __future__ import annotations

import shutil
from pathlib import Path

import check_environment

from .conftest import ROOT


def _env_copy(repo_copy: Path) -> Path:
    shutil.copy2(ROOT / "environment.yml", repo_copy / "environment.yml")
    return repo_copy / "environment.yml"


def test_real_environment_is_consistent(capsys):
    assert check_environment.check(ROOT) == []
    assert check_environment.main(["--root", str(ROOT)]) == 0
    assert capsys.readouterr().out.startswith("OK:")


def test_missing_run_dependency_is_named(repo_copy: Path, capsys):
    env = _env_copy(repo_copy)
    env.write_text("".join(ln for ln in env.read_text().splitlines(True) if not ln.startswith("  - numba")))
    assert check_environment.main(["--root", str(repo_copy)]) == 1
    err = capsys.readouterr().err
    assert "environment.yml: run dependency 'numba >=0.58' of fermi-sciencetools-shim is missing" in err


def test_channels_python_floor_and_own_packages_are_checked(repo_copy: Path):
    env = _env_copy(repo_copy)
    text = env.read_text()
    text = text.replace("  - conda-forge\n  - nodefaults\n", "  - defaults\n  - conda-forge\n")
    text = text.replace("  - python >=3.10\n", "  - python >=3.11\n  - fermi-l1\n")
    env.write_text(text)
    problems = check_environment.check(repo_copy)
    assert (
        "environment.yml: channels must start with conda-forge, got ['defaults', 'conda-forge']" in problems
    )
    assert "environment.yml: channels lack 'nodefaults' (the defaults channel must not mix in)" in problems
    assert "environment.yml: python '>=3.11' != the packages' requires-python '>=3.10'" in problems
    assert any("lists our own package 'fermi-l1'" in p for p in problems)


def test_unreadable_environment_is_reported(repo_copy: Path):
    (repo_copy / "environment.yml").write_text("dependencies: [unclosed\n")
    (problem,) = check_environment.check(repo_copy)
    assert problem.startswith("environment.yml: cannot read:")
