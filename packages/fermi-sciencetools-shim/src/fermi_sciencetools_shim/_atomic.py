"""Write output files under a temporary name and rename them at the end.

A tool that fails half way must leave no partial output behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_output(path: str | os.PathLike[str], *, clobber: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` if the block succeeds.

    Parameters
    ----------
    path
        Final output path.
    clobber
        If false and ``path`` exists, raise :class:`FileExistsError` before writing anything.

    Yields
    ------
    pathlib.Path
        Where the caller writes. It is removed if the block raises.
    """
    final = Path(path)
    if not clobber and final.exists():
        raise FileExistsError(f"{final}: exists and clobber=no")
    directory = final.parent if str(final.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=directory)
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.unlink()  # writers such as astropy refuse to overwrite without being told
    try:
        yield tmp_path
        os.replace(tmp_path, final)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
