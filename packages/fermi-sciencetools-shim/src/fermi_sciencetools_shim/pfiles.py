"""Where learned parameter values live: the ``$PFILES`` rules of the ScienceTools (PIL/ape).

``PFILES`` is ``user1:user2;system1:system2``: the folders before ``;`` hold the user's
(writable) copies of the ``.par`` files, those after it read-only system copies; without
``;`` every folder is both. When ``PFILES`` is unset, the user folder is ``~/pfiles``
(created on first save), as the Fermitools' conda activation sets it up.

The definition of a tool's parameters (types, ranges, prompts) is always the ``.par`` file
shipped with the shim (:func:`.parfile.system_par`); a user copy contributes only the
values it holds for parameters of the same name and type ("learned" values, ``pset``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from fermi_sciencetools_shim.errors import InputFileError
from fermi_sciencetools_shim.parfile import ParFile, read_par, system_par


def default_user_dir() -> Path:
    """The per-user pfiles folder used when ``PFILES`` is unset: ``~/pfiles``."""
    return Path.home() / "pfiles"


def pfiles_dirs(value: str | None = None) -> tuple[list[Path], list[Path]]:
    """Return ``(user folders, system folders)`` from ``PFILES`` (or ``value``).

    Empty entries are skipped; an unset or empty ``PFILES`` gives ``([~/pfiles], [])``.
    """
    text = os.environ.get("PFILES") if value is None else value
    if not text or not text.strip(";: "):
        return [default_user_dir()], []

    def split(part: str) -> list[Path]:
        return [Path(os.path.expanduser(p)) for p in part.split(os.pathsep) if p.strip()]

    if ";" in text:
        user_part, system_part = text.split(";", 1)
        return split(user_part), split(system_part.replace(";", os.pathsep))
    dirs = split(text)
    return dirs, list(dirs)


def user_par_path(tool: str) -> Path | None:
    """The user copy of ``tool``'s ``.par`` file: the first one found in the user folders,
    else where it would be written (the first user folder); ``None`` if there is no user folder."""
    users, _ = pfiles_dirs()
    for folder in users:
        candidate = folder / f"{tool}.par"
        if candidate.is_file():
            return candidate
    return users[0] / f"{tool}.par" if users else None


def _merge(definition: ParFile, learned: ParFile) -> ParFile:
    merged = definition.copy()
    for entry in learned.entries:
        if entry.name in merged and merged[entry.name].type == entry.type:
            merged.set_value(entry.name, entry.value)
    return merged


def load_par(tool: str) -> ParFile:
    """Return ``tool``'s parameters: the shipped definition with the user's learned values.

    A user copy that cannot be read is reported on stderr (one line) and ignored.
    """
    definition = system_par(tool)
    path = user_par_path(tool)
    if path is None or not path.is_file():
        return definition
    try:
        learned = read_par(path, tool)
    except InputFileError as exc:
        print(f"{tool}: warning: {exc}; using the default parameters", file=sys.stderr)
        return definition
    merged = _merge(definition, learned)
    merged.source = str(path)
    return merged


def save_par(parfile: ParFile) -> Path | None:
    """Write ``parfile`` as the user copy of its tool's ``.par`` file and return its path.

    A folder that cannot be created or written is reported on stderr (one line): the
    values are then not learned, and the tool still runs.
    """
    path = user_par_path(parfile.tool)
    if path is None:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        parfile.write(path)
    except OSError as exc:
        print(
            f"{parfile.tool}: warning: cannot save learned parameters to {path} ({exc.strerror})",
            file=sys.stderr,
        )
        return None
    return path


def unlearn(tool: str) -> Path | None:
    """Delete the user copy of ``tool``'s ``.par`` file (``punlearn``); return it if one was removed."""
    system_par(tool)  # an unknown tool is an error, not a silent no-op
    users, _ = pfiles_dirs()
    removed = None
    for folder in users:
        candidate = folder / f"{tool}.par"
        if candidate.is_file():
            candidate.unlink()
            removed = removed or candidate
    return removed
