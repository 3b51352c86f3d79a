"""New deliveries in the inbox of a data home: what the ``ingest`` and ``merge`` stages of the chain take.

An inbox entry is a delivery directory (with ``manifest.json``) or a tar of one. The tasks that
ingest and merge them belong to their owners (:mod:`fermi_ingest.task`, :mod:`fermi_halfpipe.task`).
"""

from __future__ import annotations

import tarfile
from pathlib import Path

from fermi_core.site import Site


def inbox_entries(site: Site) -> list[Path]:
    """Return the deliveries waiting in the site's inbox (directories and tar files), by name."""
    inbox = site.inbox
    if not inbox.is_dir():
        return []
    return sorted(
        p
        for p in inbox.iterdir()
        if not p.name.startswith(".") and (p.is_dir() or (p.is_file() and tarfile.is_tarfile(p)))
    )
