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
    (problem,) = check_environment.check_dev(repo_copy)
    assert problem.startswith("environment.yml: cannot read:")


def test_dev_environment_must_hold_what_requirements_dev_installs(repo_copy: Path):
    env = _env_copy(repo_copy)
    shutil.copy2(ROOT / "requirements-dev.txt", repo_copy / "requirements-dev.txt")
    env.write_text(
        env.read_text()
        .replace("  - hypothesis\n", "")
        .replace("      - py-rattler-build\n", "      - rattler-build-cli\n")
    )
    problems = check_environment.check_dev(repo_copy)
    assert problems == [
        "environment.yml: 'hypothesis' of requirements-dev.txt (the pip development setup) is missing",
        "environment.yml: 'py-rattler-build' of requirements-dev.txt (the pip development setup) is missing",
    ]
    # a conda-forge spelling with '_' (prometheus_client) satisfies the PyPI name prometheus-client
    assert "prometheus_client" in env.read_text()


def _farm_copy(repo_copy: Path) -> Path:
    (repo_copy / "envs").mkdir(exist_ok=True)
    shutil.copy2(ROOT / "envs" / "farm.yml", repo_copy / "envs" / "farm.yml")
    return repo_copy / "envs" / "farm.yml"


def test_real_farm_environment_is_runtime_only():
    assert check_environment.check_farm(ROOT) == []


def test_farm_environment_refuses_dev_tools_and_needs_the_pinned_metapackage(repo_copy: Path):
    farm = _farm_copy(repo_copy)
    text = farm.read_text()
    text = text.replace("  - fermi-ground ==0.1.0.dev0\n", "  - fermi-ground\n  - pytest\n  - fermi-l1\n")
    text = text.replace("  - parsl >=2024.1\n", "")
    text = text.replace("  - https://repo.prefix.dev/fermi-ground\n", "")
    farm.write_text(text)
    assert check_environment.check_farm(repo_copy) == [
        "envs/farm.yml: channels lack our channel https://repo.prefix.dev/fermi-ground",
        "envs/farm.yml: 'pytest' is not a runtime dependency of any package (development tool?)",
        "envs/farm.yml: lists 'fermi-l1'; the farm takes our packages through fermi-ground",
        "envs/farm.yml: needs 'fermi-ground ==0.1.0.dev0' (recipes/fermi-ground/recipe.yaml), got ''",
        "envs/farm.yml: 'parsl>=2024.1' of the farm extra of fermi-core is missing",
    ]
