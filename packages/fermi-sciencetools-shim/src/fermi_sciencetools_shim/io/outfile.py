"""Checks of an output file name made before a tool does any work (fail fast, write nothing)."""

from __future__ import annotations

import os
from pathlib import Path

from fermi_sciencetools_shim.errors import ParameterError


def check_outfile(outfile: str | os.PathLike[str], clobber: bool = True, name: str = "outfile") -> Path:
    """Return ``outfile`` as a Path after checking that it can be written.

    Parameters
    ----------
    outfile
        The output file name.
    clobber
        Whether an existing file may be replaced.
    name
        Parameter name used in the error message.

    Raises
    ------
    ParameterError
        For an empty name, a folder that does not exist or cannot be written, a name that is
        a folder, or an existing file with ``clobber=no``.
    """
    text = str(outfile).strip()
    if not text:
        raise ParameterError(name, "no output file given")
    path = Path(text)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.exists():
        raise ParameterError(name, f"{path}: folder {folder} does not exist")
    if not folder.is_dir():
        raise ParameterError(name, f"{path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ParameterError(name, f"{path}: folder {folder} is not writable")
    if path.is_dir():
        raise ParameterError(name, f"{path} is a folder, not a file name")
    if path.exists() and not clobber:
        raise ParameterError(name, f"{path} exists and clobber=no")
    return path
