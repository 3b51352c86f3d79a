"""The one SHA-256 of a file (read in blocks, so memory stays flat for any size)."""

from __future__ import annotations

import hashlib
import os

BLOCK = 1 << 20


def sha256_file(path: str | os.PathLike[str], block: int = BLOCK) -> str:
    """Hex SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_bytes(data: bytes | memoryview) -> str:
    """Hex SHA-256 of bytes in memory (what :func:`sha256_file` gives for a file holding them)."""
    return hashlib.sha256(data).hexdigest()
