"""Delivery manifest (JSON, ``docs/formats/telemetry.md`` section 1): read, verify, write."""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fermi_core.checksum import sha256_bytes, sha256_file
from fermi_ingest.ccsds.constants import FORMAT_VERSION, SCID_FERMI
from fermi_ingest.errors import ManifestError

MANIFEST_NAME = "manifest.json"
_DELIVERY_ID = re.compile(r"^\d{9}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ManifestFile:
    """One packet file listed in a manifest."""

    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """A delivery manifest."""

    delivery_id: str
    scid: int
    files: tuple[ManifestFile, ...]
    sha256: str  # of the manifest's canonical JSON: identifies the delivery's content

    def to_json(self) -> str:
        """Canonical JSON text of the manifest."""
        return _canonical(self.delivery_id, self.scid, self.files)


def _canonical(delivery_id: str, scid: int, files: tuple[ManifestFile, ...]) -> str:
    doc = {
        "format": "fermi-lat-delivery",
        "format_version": FORMAT_VERSION,
        "delivery_id": delivery_id,
        "scid": scid,
        "files": [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in files],
    }
    return json.dumps(doc, indent=2) + "\n"


def read_manifest(path: str | os.PathLike[str]) -> Manifest:
    """Parse and check the structure of a manifest file (not the files it lists)."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{path}: manifest missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path}: not a readable JSON manifest ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != "fermi-lat-delivery":
        raise ManifestError(f"{path}: 'format' must be 'fermi-lat-delivery'")
    if doc.get("format_version") != FORMAT_VERSION:
        raise ManifestError(f"{path}: format_version {doc.get('format_version')!r} unknown (this reader: 1)")
    delivery_id = doc.get("delivery_id")
    if not isinstance(delivery_id, str) or not _DELIVERY_ID.match(delivery_id):
        raise ManifestError(f"{path}: delivery_id {delivery_id!r} is not 9 digits YYMMDDNNN")
    scid = doc.get("scid")
    if not isinstance(scid, int):
        raise ManifestError(f"{path}: scid {scid!r} is not an integer")
    entries = doc.get("files")
    if not isinstance(entries, list) or not entries:
        raise ManifestError(f"{path}: 'files' must be a non-empty list")
    files = []
    for i, entry in enumerate(entries):
        where = f"{path}: files[{i}]"
        if not isinstance(entry, dict):
            raise ManifestError(f"{where}: not an object")
        name, size, sha = entry.get("name"), entry.get("size"), entry.get("sha256")
        if not isinstance(name, str) or not name or "/" in name or "\\" in name or name in (".", ".."):
            raise ManifestError(f"{where}: name {name!r} is not a bare file name")
        if name == MANIFEST_NAME:
            raise ManifestError(f"{where}: the manifest cannot list itself")
        if not isinstance(size, int) or size < 0:
            raise ManifestError(f"{where} ({name}): size {size!r} is not a non-negative integer")
        if not isinstance(sha, str) or not _SHA256.match(sha):
            raise ManifestError(f"{where} ({name}): sha256 {sha!r} is not 64 lower-case hex digits")
        files.append(ManifestFile(name, size, sha))
    names = [f.name for f in files]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ManifestError(f"{path}: file {dup[0]} listed more than once")
    frozen = tuple(files)
    sha256 = hashlib.sha256(_canonical(delivery_id, scid, frozen).encode()).hexdigest()
    return Manifest(delivery_id, scid, frozen, sha256)


def verify_delivery(
    directory: str | os.PathLike[str], scid: int | None = SCID_FERMI, *, checksums: bool = True
) -> Manifest:
    """Read ``directory/manifest.json`` and check every file against it.

    With ``checksums=False`` everything but the SHA-256 of the files is checked (names, sizes,
    spacecraft): the caller hashes the bytes it reads (:func:`read_verified`), so every byte is
    read and hashed once.

    Raises
    ------
    ManifestError
        Naming the file: missing, unlisted, wrong size or wrong SHA-256; or a wrong spacecraft id.
    """
    directory = Path(directory)
    manifest = read_manifest(directory / MANIFEST_NAME)
    if scid is not None and manifest.scid != scid:
        raise ManifestError(f"{directory / MANIFEST_NAME}: scid {manifest.scid}, expected {scid}")
    present = {p.name for p in directory.iterdir() if p.is_file() and p.name != MANIFEST_NAME}
    unlisted = sorted(present - {f.name for f in manifest.files})
    if unlisted:
        raise ManifestError(f"{directory / unlisted[0]}: file not listed in the manifest")
    for f in manifest.files:
        path = directory / f.name
        if f.name not in present:
            raise ManifestError(f"{path}: listed in the manifest but missing")
        size = path.stat().st_size
        if size != f.size:
            raise ManifestError(f"{path}: size {size} bytes, manifest says {f.size}")
        if checksums:
            _check_sha(path, sha256_file(path), f)
    return manifest


def _check_sha(path: Path, sha: str, f: ManifestFile) -> None:
    if sha != f.sha256:
        raise ManifestError(f"{path}: SHA-256 {sha} differs from the manifest's {f.sha256}")


def read_verified(directory: str | os.PathLike[str], f: ManifestFile) -> np.ndarray:
    """The bytes of the manifest's file ``f`` in ``directory``, read once and checked against it.

    The bytes returned are the bytes hashed: whatever happens to the file afterwards, what is
    archived and decoded from them is what the manifest lists.

    Raises
    ------
    ManifestError
        The file's size or SHA-256 differs from the manifest's (names the file).
    """
    path = Path(directory) / f.name
    data = np.fromfile(path, dtype=np.uint8)
    if data.size != f.size:
        raise ManifestError(f"{path}: size {data.size} bytes, manifest says {f.size}")
    _check_sha(path, sha256_bytes(memoryview(data)), f)
    return data


def write_manifest(
    directory: str | os.PathLike[str],
    delivery_id: str,
    names: list[str] | None = None,
    scid: int = SCID_FERMI,
) -> Manifest:
    """Write ``directory/manifest.json`` listing ``names`` (default: every other file, sorted)."""
    directory = Path(directory)
    if names is None:
        names = sorted(p.name for p in directory.iterdir() if p.is_file() and p.name != MANIFEST_NAME)
    files = tuple(ManifestFile(n, (directory / n).stat().st_size, sha256_file(directory / n)) for n in names)
    if not _DELIVERY_ID.match(delivery_id):
        raise ValueError(f"parameter 'delivery_id': {delivery_id!r} is not 9 digits YYMMDDNNN")
    (directory / MANIFEST_NAME).write_text(_canonical(delivery_id, scid, files), encoding="utf-8")
    return read_manifest(directory / MANIFEST_NAME)
