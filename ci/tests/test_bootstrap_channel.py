"""Tests of ci/bootstrap_channel.py pieces that need no build: wheel closure, fixes, cache key."""

from __future__ import annotations

import importlib.metadata as md
import zipfile
from pathlib import Path

import bootstrap_channel
import pytest
from packaging.requirements import Requirement

from .conftest import ROOT


def test_closure_pins_installed_versions_and_follows_dependencies():
    closure = bootstrap_channel.wheel_closure([Requirement("astropy>=5.3")])
    assert closure["astropy"] == f"=={md.version('astropy')}"
    # astropy's own dependencies come along, pinned as installed
    for dep in ("numpy", "pyerfa", "packaging", "pyyaml", "astropy-iers-data"):
        assert closure[dep] == f"=={md.version(dep)}"
    assert "pytest" not in closure  # an extra of astropy ('test'), not a dependency


def test_marker_excluded_root_keeps_its_specifier():
    req = Requirement('not-installed-anywhere>=1.1; python_version < "3"')
    assert bootstrap_channel.wheel_closure([req]) == {"not-installed-anywhere": ">=1.1"}


def test_missing_dependency_names_who_wants_it():
    with pytest.raises(bootstrap_channel.BootstrapError, match=r"not-installed-anywhere \(required by"):
        bootstrap_channel.wheel_closure([Requirement("not-installed-anywhere")])


def test_required_wheels_cover_every_external_run_dependency():
    wheels = bootstrap_channel.required_wheels(ROOT)
    assert {"pip", "hatchling", "setuptools", "numpy", "numba", "llvmlite", "astropy"} <= set(wheels)
    assert not any(name.startswith("fermi-") for name in wheels)


def test_cache_key_changes_with_the_wheel_list():
    a = bootstrap_channel.cache_key({"numpy": "==2.0.0"})
    assert a == bootstrap_channel.cache_key({"numpy": "==2.0.0"})
    assert a != bootstrap_channel.cache_key({"numpy": "==2.0.1"})


def _wheel(tmp_path: Path, requires: list[str]) -> Path:
    path = tmp_path / "demo-1.0-py3-none-any.whl"
    meta = "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires
    )
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("demo-1.0.dist-info/METADATA", meta)
    return path


def test_compatible_release_dependencies_are_passed_verbatim(tmp_path: Path):
    wheel = _wheel(tmp_path, ["mdurl~=0.1", "numpy>=1.24", 'old~=1.0; python_version < "3"'])
    assert bootstrap_channel.compatible_release_fixes(wheel) == ["-D", "mdurl", "-A", "mdurl ~=0.1"]


def test_wheel_without_metadata_is_reported(tmp_path: Path):
    path = tmp_path / "broken-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("broken/__init__.py", "")
    with pytest.raises(
        bootstrap_channel.BootstrapError, match=r"broken-1.0-py3-none-any.whl: no .dist-info/METADATA"
    ):
        bootstrap_channel.compatible_release_fixes(path)


def test_channel_names_follow_our_mapping_as_whl2conda_spells_them():
    renames = bootstrap_channel.dependency_renames({"typing-extensions": "==4", "numpy": "==2"})
    # whl2conda would rename the dependency to typing_extensions, but it names packages with '-'
    assert renames == {"typing-extensions": "typing-extensions"}


def test_names_missing_from_whl2conda_table_are_renamed_to_the_channel_spelling():
    renames = bootstrap_channel.dependency_renames({"charset-normalizer": "==3.4.0", "numpy": "==2.0.0"})
    # requests spells it charset_normalizer; whl2conda would keep that spelling without a rename
    assert renames.get("charset-normalizer") == "charset-normalizer"
    assert "numpy" not in renames


def test_the_python_package_is_a_relocatable_copy(tmp_path: Path):
    import subprocess
    import sys

    stage = tmp_path / "stage"
    bootstrap_channel.stage_relocatable_python(stage)
    moved = tmp_path / "elsewhere" / "prefix"
    moved.parent.mkdir()
    stage.rename(moved)  # a prefix other than the one it was staged in
    out = subprocess.run(
        [str(moved / "bin" / "python"), "-c", "import sys, ssl, sqlite3, ctypes; print(sys.prefix)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out == str(moved)
    stdlib = moved / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert (stdlib / "site-packages").is_dir() and not any((stdlib / "site-packages").iterdir())
    assert not (stdlib / "test").exists()


def test_runpath_relocation_refuses_ambiguous_or_longer_paths(tmp_path: Path):
    elf = tmp_path / "lib.so"
    elf.write_bytes(b"\x7fELF....ABC/lib\x00....ABC/lib\x00")
    with pytest.raises(bootstrap_channel.BootstrapError, match="2 copies"):
        bootstrap_channel.relocate_runpath(elf, "ABC/lib", "$O")
    elf.write_bytes(b"\x7fELF....ABC/lib\x00rest")
    assert bootstrap_channel.relocate_runpath(elf, "ABC/lib", "$O") is True
    assert elf.read_bytes() == b"\x7fELF....$O\x00\x00\x00\x00\x00\x00rest"
    assert bootstrap_channel.relocate_runpath(elf, "ABC/lib", "$O") is False
