"""The FSSC outbox: one folder per export with the product files and a manifest.

``<outbox>/<name>/`` holds the files and ``manifest.json`` (file names, sizes, SHA-256). The
export of a run's version 2 or later (``r<run10>_v002`` ...) also says what it supersedes: the
manifest's ``supersedes`` holds the older export's name, version and file names. An
export is built in a hidden temporary folder beside it and renamed into place in one step, so
the FSSC poller never sees half an export. Exporting the same name again with the same files
is a no-op; with different files it is an error (publish a new version instead).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fermi_core.atomic import atomic_directory
from fermi_core.checksum import sha256_file
from fermi_core.errors import BadInput

MANIFEST = "manifest.json"


class ExportError(BadInput, ValueError):
    """An export that would change already exported files, or a missing input file."""


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export` did: the export folder and whether it was written now."""

    folder: Path
    written: bool
    manifest: dict


def build_manifest(name: str, files: Sequence[Path], supersedes: Mapping[str, Any] | None = None) -> dict:
    """Return the manifest of ``files`` (sorted by name), with ``supersedes`` when given."""
    entries = [
        {"name": f.name, "size": f.stat().st_size, "sha256": sha256_file(f)}
        for f in sorted(files, key=lambda p: p.name)
    ]
    manifest: dict[str, Any] = {"export": name, "files": entries}
    if supersedes is not None:
        manifest["supersedes"] = dict(supersedes)
    return manifest


def export(
    outbox: str | os.PathLike[str],
    name: str,
    files: Sequence[str | os.PathLike[str]],
    supersedes: Mapping[str, Any] | None = None,
) -> ExportResult:
    """Place ``files`` in ``<outbox>/<name>/`` with a manifest, atomically and idempotently.

    ``supersedes`` (``{"export": ..., "version": ..., "files": [...]}``) names the export this one
    replaces, recorded in the manifest.

    Raises
    ------
    ExportError
        A file is missing, two files share a name, or ``name`` was exported with other contents.
    """
    paths = [Path(f) for f in files]
    for p in paths:
        if not p.is_file():
            raise ExportError(f"{p}: no such file to export")
    if len({p.name for p in paths}) != len(paths):
        raise ExportError(f"export {name}: two files share a name")
    root = Path(outbox)
    root.mkdir(parents=True, exist_ok=True)
    final = root / name
    manifest = build_manifest(name, paths, supersedes)
    if final.exists():
        try:
            old = json.loads((final / MANIFEST).read_text())
        except (OSError, ValueError):
            raise ExportError(f"{final}: exists without a readable {MANIFEST}") from None
        if old != manifest:
            raise ExportError(f"{final}: already exported with different files (export a new version)")
        return ExportResult(final, False, manifest)
    try:
        with atomic_directory(final) as work:
            for p in paths:
                try:
                    os.link(p, work / p.name)  # products and outbox usually share a file system
                except OSError:
                    shutil.copy2(p, work / p.name)
            (work / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    except FileExistsError:  # a concurrent export of the same name won: compare with it
        return export(outbox, name, files, supersedes)
    return ExportResult(final, True, manifest)
