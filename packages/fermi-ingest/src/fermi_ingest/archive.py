"""Atomic file operations of the archive: verified copies and byte-exact quarantine files."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from fermi_ingest.errors import IngestError

_BLOCK = 1 << 20


def _tmp_beside(final: Path) -> Path:
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    return Path(tmp)


def copy_verified(src: Path, dest: Path, sha256: str) -> bool:
    """Copy ``src`` to ``dest`` atomically, checking the SHA-256 of the bytes written.

    Returns False (and copies nothing) when ``dest`` already holds exactly those bytes.

    Raises
    ------
    IngestError
        If the bytes read do not have ``sha256`` (the file changed after verification).
    """
    if dest.is_file() and dest.stat().st_size == src.stat().st_size:
        digest = hashlib.sha256()
        with open(dest, "rb") as fh:
            while block := fh.read(_BLOCK):
                digest.update(block)
        if digest.hexdigest() == sha256:
            return False
    tmp = _tmp_beside(dest)
    try:
        digest = hashlib.sha256()
        with open(src, "rb") as fin, open(tmp, "wb") as fout:
            while block := fin.read(_BLOCK):
                digest.update(block)
                fout.write(block)
            fout.flush()
            os.fsync(fout.fileno())
        if digest.hexdigest() != sha256:
            raise IngestError(f"{src}: changed while being archived (SHA-256 {digest.hexdigest()})")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return True


def write_atomic(dest: Path, data: bytes) -> None:
    """Write ``data`` to ``dest`` through a temporary file and a rename."""
    tmp = _tmp_beside(dest)
    try:
        tmp.write_bytes(data)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (created if needed) for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def remove_tree(path: Path) -> None:
    """Remove a temporary tree, ignoring a missing one."""
    shutil.rmtree(path, ignore_errors=True)
