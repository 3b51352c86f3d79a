"""The ``ingest`` task of the task engine: ingest one delivery waiting in the inbox.

Registered under the entry point group ``fermi.tasks`` (see :mod:`fermi_core.engine.registry`).
The task calls :func:`fermi_ingest.ingest.ingest` (what ``fermi-ingest ingest`` runs), which is
idempotent: ingesting the same delivery again changes nothing. It returns ``[delivery id]``,
which the engine records with the attempt, so the next stage is handed the id instead of
reading the manifest again.
"""

from __future__ import annotations

import os
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fermi_core.engine.registry import TaskContext, TaskSpec
from fermi_ingest.errors import IngestError
from fermi_ingest.manifest import MANIFEST_NAME, read_manifest

__all__ = ["INGEST", "IngestParams", "delivery_id_of", "ingest_delivery"]


@dataclass(frozen=True)
class IngestParams:
    """Parameters of one ``ingest`` task run (stored as JSON: ``{"path": ...}``).

    Parameters
    ----------
    path
        The inbox entry: a delivery directory (with ``manifest.json``) or a tar of one, relative
        to the data home (absolute in older rows).
    home
        The data home, recorded by older rows; the task's site is the home it ingests into.
    """

    path: str
    home: str = ""


def ingest_delivery(params: IngestParams, ctx: TaskContext) -> list[str]:
    """Ingest the delivery at ``params.path`` into the task's data home; return ``[delivery id]``."""
    from fermi_ingest.ingest import ingest

    result = ingest(ctx.site.resolve(params.path), site=ctx.site)
    print(f"delivery {result.delivery_id}: {'already ingested' if result.already_ingested else 'ingested'}")
    return [result.delivery_id]


def delivery_id_of(path: str | os.PathLike[str]) -> str:
    """The delivery id that the manifest of an inbox entry (directory or tar) declares.

    For callers that only have the entry (e.g. task runs recorded before the engine kept what
    the ingest returned); after an ingest, use the id it returned.

    Raises
    ------
    IngestError
        No readable manifest (names the entry).
    """
    p = Path(path)
    if p.is_dir():
        return read_manifest(p / MANIFEST_NAME).delivery_id
    try:
        with tarfile.open(p) as tar:
            member = next((m for m in tar.getmembers() if Path(m.name).name == MANIFEST_NAME), None)
            if member is None:
                raise IngestError(f"{p}: no {MANIFEST_NAME} in the archive")
            handle = tar.extractfile(member)
            data = handle.read() if handle is not None else b""
    except (OSError, tarfile.TarError) as exc:
        raise IngestError(f"{p}: not a readable delivery archive ({exc})") from None
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / MANIFEST_NAME).write_bytes(data)
        try:
            return read_manifest(Path(tmp) / MANIFEST_NAME).delivery_id
        except IngestError as exc:
            raise IngestError(f"{p}: {exc}") from None


INGEST = TaskSpec(name="ingest", function=ingest_delivery, params=IngestParams, label="ingest")
