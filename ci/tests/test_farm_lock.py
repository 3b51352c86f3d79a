"""Tests of ci/farm_lock.py: explicit lock files of the farm environment (no solve needed here)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import farm_lock
import pytest

from .conftest import ROOT

MD5 = "0" * 32


def _lock(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "farm-linux-64.lock"
    path.write_text("# header\n# platform: linux-64\n@EXPLICIT\n" + "".join(f"{ln}\n" for ln in lines))
    return path


def test_read_lock_parses_urls_and_names(tmp_path: Path):
    lock = _lock(
        tmp_path,
        [
            f"https://repo.prefix.dev/fermi-ground/noarch/fermi-sciencetools-shim-0.1.0.dev0-pyh4616a5c_0.conda#{MD5}",
            f"https://conda.anaconda.org/conda-forge/linux-64/python-3.11.7-hab00c5b_1_cpython.conda#{MD5}",
        ],
    )
    (shim, python) = farm_lock.read_lock(lock)
    assert shim.name_version == ("fermi-sciencetools-shim", "0.1.0.dev0")
    assert python.file_name == "python-3.11.7-hab00c5b_1_cpython.conda"


def test_malformed_lock_line_names_file_line_and_byte(tmp_path: Path):
    lock = _lock(tmp_path, ["https://example.org/noarch/a-1-0.conda#abc"])
    with pytest.raises(farm_lock.LockError, match=r"farm-linux-64\.lock: line 4 \(byte 40\): expected"):
        farm_lock.read_lock(lock)
    lock.write_text(f"https://example.org/noarch/a-1-0.conda#{MD5}\n")
    with pytest.raises(farm_lock.LockError, match=r"line 1 .* before '@EXPLICIT'"):
        farm_lock.read_lock(lock)


def test_stale_lock_is_reported_with_the_command_to_regenerate(tmp_path: Path):
    lock = _lock(tmp_path, [f"file:///c/noarch/fermi-l1-0.0.9-pyh4616a5c_0.conda#{MD5}"])
    problems = farm_lock.check_lock(ROOT, lock)
    assert any(
        p.endswith(
            "locks fermi-l1 0.0.9, current version is 0.1.0.dev0: regenerate it with "
            "'.venv/bin/python ci/farm_lock.py' (ci/README.md)"
        )
        for p in problems
    )
    assert any("locks fermi-core (absent)" in p for p in problems)


def test_farm_environment_has_conda_packages_only(tmp_path: Path):
    env = tmp_path / "farm.yml"
    env.write_text("channels: [conda-forge, nodefaults]\ndependencies:\n  - python\n  - pip:\n    - x\n")
    with pytest.raises(farm_lock.LockError, match=r"dependencies\[1\].*conda packages only"):
        farm_lock.read_environment(env)
    channels, specs = farm_lock.read_environment(ROOT / "envs" / "farm.yml")
    assert channels[0] == "conda-forge" and "nodefaults" not in channels
    assert "fermi-ground ==0.1.0.dev0" in specs


def test_install_from_lock_refuses_an_archive_whose_md5_differs(tmp_path: Path):
    """A lock pointing at a rebuilt package (same name, other bytes) must not install."""
    rattler = pytest.importorskip("rattler")
    import asyncio

    import rattler_build as rb

    channel = tmp_path / "chan"
    (channel / "noarch").mkdir(parents=True)
    files = tmp_path / "files"
    files.mkdir()
    (files / "hello.txt").write_text("hello\n")
    rb.assemble_package("hello", "1.0", "noarch", "0", channel / "noarch", files_dir=files)
    asyncio.run(rattler.index.index_fs(channel, force=True))
    (archive,) = (channel / "noarch").glob("hello-1.0-0.*")
    good = hashlib.md5(archive.read_bytes()).hexdigest()
    lock = _lock(tmp_path, [f"{archive.resolve().as_uri()}#{good}"])
    records = farm_lock.install_from_lock(lock, tmp_path / "prefix", [channel])
    assert [str(r.name.normalized) for r in records] == ["hello"]
    assert (tmp_path / "prefix" / "hello.txt").read_text() == "hello\n"
    lock = _lock(tmp_path, [f"{archive.resolve().as_uri()}#{'f' * 32}"])
    with pytest.raises(farm_lock.LockError, match="stale lock"):
        farm_lock.install_from_lock(lock, tmp_path / "prefix2", [channel])
