"""New deliveries in ``$FERMI_HOME/inbox/``: the ``ingest`` and ``merge`` tasks of the pipeline.

An inbox entry is a delivery directory (with ``manifest.json``) or a tar of one. Both tasks call
the owners' public functions (what ``fermi-ingest ingest`` and ``fermi-halfpipe merge`` run) and
are idempotent there: ingesting or merging the same delivery again changes nothing.
"""

from __future__ import annotations

import os
import tarfile
import tempfile
from pathlib import Path

from fermi_ingest.errors import IngestError


def inbox_entries(home: str | os.PathLike[str]) -> list[Path]:
    """Return the deliveries waiting in ``home/inbox`` (directories and tar files), by name."""
    inbox = Path(home) / "inbox"
    if not inbox.is_dir():
        return []
    return sorted(
        p
        for p in inbox.iterdir()
        if not p.name.startswith(".") and (p.is_dir() or (p.is_file() and tarfile.is_tarfile(p)))
    )


def delivery_id_of(path: str | os.PathLike[str]) -> str:
    """Return the delivery id that the manifest of an inbox entry declares.

    Raises
    ------
    IngestError
        No readable manifest (names the entry).
    """
    from fermi_ingest.manifest import read_manifest

    p = Path(path)
    if p.is_dir():
        return read_manifest(p / "manifest.json").delivery_id
    try:
        with tarfile.open(p) as tar:
            member = next((m for m in tar.getmembers() if Path(m.name).name == "manifest.json"), None)
            if member is None:
                raise IngestError(f"{p}: no manifest.json in the archive")
            handle = tar.extractfile(member)
            data = handle.read() if handle is not None else b""
    except (OSError, tarfile.TarError) as exc:
        raise IngestError(f"{p}: not a readable delivery archive ({exc})") from None
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "manifest.json").write_bytes(data)
        try:
            return read_manifest(Path(tmp) / "manifest.json").delivery_id
        except IngestError as exc:
            raise IngestError(f"{p}: {exc}") from None


def ingest_task(path: str, home: str, *, db_url: str | None = None) -> list[str]:
    """Ingest the delivery at ``path`` (``fermi-ingest ingest``); return ``[delivery id]``."""
    os.environ["FERMI_HOME"] = str(home)
    from fermi_ingest.ingest import ingest

    result = ingest(path, url=db_url)
    print(f"delivery {result.delivery_id}: {'already ingested' if result.already_ingested else 'ingested'}")
    return [result.delivery_id]


def merge_task(path: str, home: str, *, db_url: str | None = None) -> list[str]:
    """Merge the ingested delivery of ``path`` (``fermi-halfpipe merge``); return the merged files."""
    os.environ["FERMI_HOME"] = str(home)
    from fermi_halfpipe.delivery import merge_delivery

    summary = merge_delivery(delivery_id_of(path), url=db_url)
    for r in summary["runs"]:
        print(f"run {r['run_id']}: {r.get('status')}")
    return [f["path"] for r in summary["runs"] for f in r["files"]]
