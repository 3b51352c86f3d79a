"""The one atomic write of the monorepo, and the copies and byte writes built on it.

:func:`atomic_output` (defined in :mod:`fermi_sciencetools_shim.atomic`, the bottom of the stack,
because the shim is installable alone) writes under a temporary name beside the target and
renames it at the end, with one fsync policy (file before the rename, directory after;
``FERMI_FSYNC=0`` turns it off). Everything here goes through it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from fermi_core.checksum import BLOCK, sha256_file
from fermi_sciencetools_shim.atomic import atomic_output, fsync_enabled, fsync_path

__all__ = [
    "ChecksumMismatch",
    "atomic_copy",
    "atomic_output",
    "atomic_write_bytes",
    "atomic_write_text",
    "fsync_enabled",
]


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes | memoryview) -> Path:
    """Write ``data`` to ``path`` atomically (its folder is made if missing); return the path."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(final) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
    return final


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; return the path."""
    return atomic_write_bytes(path, text.encode("utf-8"))


class ChecksumMismatch(OSError):
    """The bytes copied do not have the expected SHA-256 (the source changed)."""


def atomic_copy(src: str | os.PathLike[str], dest: str | os.PathLike[str], sha256: str | None = None) -> bool:
    """Copy ``src`` to ``dest`` atomically, hashing the bytes on the way (read once).

    Returns False, copying nothing, when ``dest`` already holds bytes with ``sha256``.

    Raises
    ------
    ChecksumMismatch
        ``sha256`` is given and the bytes read do not have it; ``dest`` is left as it was.
    """
    src, dest = Path(src), Path(dest)
    if sha256 is not None and dest.is_file() and dest.stat().st_size == src.stat().st_size:
        if sha256_file(dest) == sha256:
            return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(dest) as tmp:
        digest = hashlib.sha256()
        with open(src, "rb") as fin, open(tmp, "wb") as fout:
            while block := fin.read(BLOCK):
                digest.update(block)
                fout.write(block)
        if sha256 is not None and digest.hexdigest() != sha256:
            raise ChecksumMismatch(
                f"{src}: SHA-256 {digest.hexdigest()}, expected {sha256} (changed while copied)"
            )
    return True


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a hidden temporary folder beside ``path``; rename it to ``path`` if the block succeeds.

    Readers never see a partial folder (e.g. an FSSC export: its files and manifest appear at
    once). The rename fails with :class:`FileExistsError` (an :class:`OSError`) when ``path``
    appeared meanwhile (a concurrent writer won); the temporary folder is removed on any error.
    With the fsync policy on, the parent folder is flushed after the rename.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        yield work
        try:
            os.rename(work, final)
        except OSError as exc:
            if final.exists():
                raise FileExistsError(f"{final}: appeared while being written") from exc
            raise
        if fsync_enabled():
            fsync_path(final.parent, directory=True)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
