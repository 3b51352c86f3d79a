"""The archive's verified copies and writes (on :mod:`fermi_core.atomic`) and the ingest lock."""

from __future__ import annotations

import contextlib
import fcntl
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from fermi_core.atomic import ChecksumMismatch, atomic_copy, atomic_write_bytes
from fermi_core.checksum import sha256_file
from fermi_ingest.errors import IngestError


def copy_verified(src: Path, dest: Path, sha256: str) -> bool:
    """Copy ``src`` to ``dest`` atomically, checking the SHA-256 of the bytes written.

    Returns False (and copies nothing) when ``dest`` already holds exactly those bytes.

    Raises
    ------
    IngestError
        If the bytes read do not have ``sha256`` (the file changed after verification).
    """
    try:
        return atomic_copy(src, dest, sha256)
    except ChecksumMismatch as exc:
        raise IngestError(f"{src}: changed while being archived ({exc})") from None


def write_verified(dest: Path, data: np.ndarray, sha256: str) -> bool:
    """Write ``data`` (bytes already checked to have ``sha256``) to ``dest`` atomically.

    Returns False (and writes nothing) when ``dest`` already holds exactly those bytes (a re-run
    after an interrupted ingest); the bytes are not hashed again otherwise.
    """
    if dest.is_file() and dest.stat().st_size == data.size and sha256_file(dest) == sha256:
        return False
    atomic_write_bytes(dest, memoryview(np.ascontiguousarray(data, dtype=np.uint8)))
    return True


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
