"""Atomic output files: write under a temporary name beside the target, rename at the end.

The one atomic writer of the monorepo (fermi-core re-exports it as :mod:`fermi_core.atomic`;
it lives here, at the bottom of the stack, because the shim is installable alone and writes
files too). A tool that fails half way leaves no partial output behind.

fsync policy: the file is flushed to disk (``fsync``) before the rename and its directory after
it, so a file that exists under its final name after a crash is complete. ``FERMI_FSYNC=0``
turns both off (scratch areas, tests on slow disks).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def fsync_enabled() -> bool:
    """Whether atomic writes flush to disk before renaming (``FERMI_FSYNC``, default on)."""
    return os.environ.get("FERMI_FSYNC", "1").strip().lower() not in {"0", "no", "false", "off"}


def fsync_path(path: Path, directory: bool = False) -> None:
    """Flush a file (or, with ``directory``, a folder's entries) to disk; errors are ignored."""
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:  # e.g. a directory that cannot be opened on this platform
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_output(path: str | os.PathLike[str], *, clobber: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` if the block succeeds.

    Parameters
    ----------
    path
        Final output path. Its folder must exist.
    clobber
        If false and ``path`` exists, raise :class:`FileExistsError` before writing anything.

    Yields
    ------
    pathlib.Path
        Where the caller writes (it does not exist yet: writers such as astropy refuse to
        overwrite without being told). It is removed if the block raises.
    """
    final = Path(path)
    if not clobber and final.exists():
        raise FileExistsError(f"{final}: exists and clobber=no")
    directory = final.parent if str(final.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=directory)
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.unlink()
    try:
        yield tmp_path
        if fsync_enabled():
            fsync_path(tmp_path)
        os.replace(tmp_path, final)
        if fsync_enabled():
            fsync_path(directory, directory=True)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
