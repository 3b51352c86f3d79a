"""The one atomic write/copy/directory and the one file checksum."""

from __future__ import annotations

import hashlib
import logging

import pytest

from fermi_core import checksum, logs
from fermi_core.atomic import (
    ChecksumMismatch,
    atomic_copy,
    atomic_directory,
    atomic_output,
    atomic_write_bytes,
)
from fermi_core.checksum import sha256_bytes, sha256_file, sha256_file_unchanged


def test_sha256_of_an_unchanged_file_is_computed_once_per_process(tmp_path, monkeypatch):
    p = tmp_path / "merged.arrow"
    p.write_bytes(b"a" * 5000)
    hashed = []
    monkeypatch.setattr(checksum, "sha256_file", lambda path: hashed.append(path) or sha256_file(path))
    first = sha256_file_unchanged(p)
    assert sha256_file_unchanged(p) == first == hashlib.sha256(b"a" * 5000).hexdigest()
    assert len(hashed) == 1
    with open(p, "r+b") as fh:  # same size, one byte changed in place
        fh.seek(100)
        fh.write(b"b")
    changed = sha256_file_unchanged(p)
    assert len(hashed) == 2 and changed != first
    assert changed == hashlib.sha256(b"a" * 100 + b"b" + b"a" * 4899).hexdigest()
    replaced = tmp_path / "other"
    replaced.write_bytes(b"a" * 5000)
    replaced.replace(p)  # another file under the same name: another inode
    assert sha256_file_unchanged(p) == first and len(hashed) == 3


def test_sha256_matches_hashlib_across_blocks(tmp_path):
    data = bytes(range(256)) * 10_000
    p = tmp_path / "f"
    p.write_bytes(data)
    assert sha256_file(p, block=4096) == hashlib.sha256(data).hexdigest() == sha256_bytes(data)


def test_atomic_output_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "out.bin"
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    atomic_write_bytes(tmp_path / "sub" / "out.bin", b"whole")
    assert (tmp_path / "sub" / "out.bin").read_bytes() == b"whole"
    with pytest.raises(FileExistsError), atomic_output(tmp_path / "sub" / "out.bin", clobber=False):
        pass


def test_atomic_copy_verifies_and_skips_identical(tmp_path):
    src = tmp_path / "src"
    src.write_bytes(b"abc" * 1000)
    sha = sha256_file(src)
    dest = tmp_path / "d" / "dest"
    assert atomic_copy(src, dest, sha) is True
    assert dest.read_bytes() == src.read_bytes()
    assert atomic_copy(src, dest, sha) is False  # already there
    with pytest.raises(ChecksumMismatch, match="changed while copied"):
        atomic_copy(src, tmp_path / "other", "0" * 64)
    assert not (tmp_path / "other").exists()


def test_atomic_directory_appears_whole_or_not_at_all(tmp_path):
    final = tmp_path / "export"
    with pytest.raises(RuntimeError), atomic_directory(final) as work:
        (work / "a").write_text("x")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with atomic_directory(final) as work:
        (work / "a").write_text("x")
    assert (final / "a").read_text() == "x"
    with pytest.raises(FileExistsError), atomic_directory(final) as work:
        (work / "b").write_text("y")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]


def test_log_lines_carry_their_context(caplog):
    log = logs.context_logger("fermi.test", delivery="170817001", run=524669480)
    with caplog.at_level(logging.INFO, logger="fermi.test"):
        log.info("merged %d events", 12)
    assert caplog.messages == ["merged 12 events [delivery=170817001 run=524669480]"]
    assert logs.level_of(0, False) == logging.WARNING
    assert logs.level_of(2, False) == logging.DEBUG
    assert logs.level_of(0, True) == logging.ERROR
