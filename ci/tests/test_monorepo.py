"""Tests of ci/monorepo.py: the package model shared by the CI scripts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import monorepo
import pytest
from packaging.requirements import Requirement

from .conftest import ROOT


def test_real_packages_in_dependency_order():
    pkgs = monorepo.discover(ROOT)
    names = [p.name for p in pkgs]
    assert set(names) >= {
        "fermi-sciencetools-shim",
        "fermi-ingest",
        "fermi-halfpipe",
        "fermi-l1",
        "fermi-latsim",
        "fermi-isoc",
    }
    position = {n: i for i, n in enumerate(names)}
    for pkg in pkgs:
        for dep in pkg.internal:
            assert position[dep] < position[pkg.name], f"{dep} must come before {pkg.name}"
    assert names[0] == "fermi-sciencetools-shim"


def test_real_package_fields_match_files():
    shim = next(p for p in monorepo.discover(ROOT) if p.name == "fermi-sciencetools-shim")
    text = (shim.path / "src" / "fermi_sciencetools_shim" / "_version.py").read_text()
    assert f'"{shim.version}"' in text
    assert shim.import_name == "fermi_sciencetools_shim"
    assert shim.scripts["fermi-shim"] == "fermi_sciencetools_shim.cli:main"
    assert shim.internal == ()
    latsim = next(p for p in monorepo.discover(ROOT) if p.name == "fermi-latsim")
    assert "fermi-l1" in latsim.internal and "fermi-sciencetools-shim" in latsim.internal


def test_json_output_lists_every_package(capsys):
    assert monorepo.main(["--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    by_name = {d["name"]: d for d in data}
    assert by_name["fermi-ingest"]["internal_dependencies"] == ["fermi-core"]
    assert by_name["fermi-core"]["internal_dependencies"] == ["fermi-sciencetools-shim"]
    assert by_name["fermi-ingest"]["path"] == "packages/fermi-ingest"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", by_name["fermi-l1"]["version"])


def test_table_output(capsys):
    assert monorepo.main([]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:2] == ["package", "version"]
    assert out[1].split()[0] == "fermi-sciencetools-shim"


def test_cycle_is_reported(repo_copy: Path):
    pyproject = repo_copy / "packages" / "fermi-sciencetools-shim" / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(text.replace('"numpy>=1.24",', '"numpy>=1.24",\n    "fermi-isoc",', 1))
    with pytest.raises(monorepo.MonorepoError, match=r"dependency cycle between packages: .*fermi-isoc"):
        monorepo.discover(repo_copy)


def test_bad_version_file_names_the_file(repo_copy: Path, capsys):
    version_file = repo_copy / "packages" / "fermi-l1" / "src" / "fermi_l1" / "_version.py"
    version_file.write_text("__version__ = compute()\n")
    assert monorepo.main(["--root", str(repo_copy)]) == 1
    err = capsys.readouterr().err
    assert "_version.py, line 1: __version__ is not a string literal" in err


def test_conda_spec_maps_names_and_sorts_specifiers():
    assert monorepo.conda_spec(Requirement("numpy>=1.24")) == "numpy >=1.24"
    assert monorepo.conda_spec(Requirement("Tables<4,>=3.8")) == "pytables <4,>=3.8"
    assert monorepo.conda_spec(Requirement("fermi-ingest")) == "fermi-ingest"


def test_dependencies_of_prints_the_build_order(capsys):
    assert monorepo.main(["--dependencies-of", "fermi-halfpipe"]) == 0
    out = capsys.readouterr().out.split()
    assert out[:3] == ["fermi-sciencetools-shim", "fermi-core", "fermi-ingest"]
    assert "fermi-halfpipe" not in out
    assert monorepo.main(["--dependencies-of", "fermi-ground"]) == 0
    assert len(capsys.readouterr().out.split()) == len(monorepo.discover(ROOT))
    assert monorepo.main(["--dependencies-of", "fermi-nothing"]) == 1
    assert "no package 'fermi-nothing' in packages/" in capsys.readouterr().err
