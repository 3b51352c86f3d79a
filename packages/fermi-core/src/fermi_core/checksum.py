"""The one SHA-256 of a file (read in blocks, so memory stays flat for any size).

:func:`sha256_file_unchanged` is the same digest, computed once per process for a file that has
not changed since: the recon crumbs of one merged file each verify that file's recorded checksum,
and a worker running 45 crumbs of a 400 MB file would otherwise hash 18 GB to check 400 MB.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict

BLOCK = 1 << 20
#: files whose digest a process remembers (the first remembered is forgotten first)
REMEMBERED = 1024
_digests: OrderedDict[tuple[int, ...], str] = OrderedDict()


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


def _identity(st: os.stat_result) -> tuple[int, ...]:
    # any write, truncation or replacement changes the size, a time stamp or the inode (ctime
    # cannot be set back by a user), so an unchanged identity means unchanged bytes
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def sha256_file_unchanged(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of the file at ``path``, hashed again only if the file changed since this process hashed it.

    The file is identified by its device, inode, size, modification and status-change times,
    taken before and after hashing; a file that changes while it is hashed is not remembered.
    """
    before = _identity(os.stat(path))
    known = _digests.get(before)
    if known is not None:
        return known
    digest = sha256_file(path)
    if _identity(os.stat(path)) == before:
        _digests[before] = digest
        while len(_digests) > REMEMBERED:
            _digests.popitem(last=False)
    return digest
