"""Re-hash every catalogued product, and every file of the FSSC outbox against its manifest.

``fermi-l1 catalog verify``: a catalogued file must be where the catalog says, with the size and
SHA-256 recorded when it was registered (products are never changed in place: a difference is
damage or an overwrite). Each export folder of the outbox must hold exactly the files its
``manifest.json`` lists, with their sizes and SHA-256. Every problem is one line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from fermi_core.checksum import sha256_file
from fermi_core.site import Site
from fermi_l1.catalog.api import product_path
from fermi_l1.catalog.models import Dataset
from fermi_l1.export.outbox import MANIFEST


@dataclass
class VerifyReport:
    """What :func:`verify` found: files checked and one line per problem."""

    products: int = 0
    exports: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is missing or different."""
        return not self.problems


def _rows(session: Session) -> Iterator[Dataset]:
    yield from session.scalars(select(Dataset).order_by(Dataset.run, Dataset.logical_path, Dataset.version))


def verify_products(session: Session, site: Site, report: VerifyReport) -> None:
    """Re-hash every catalogued file; add a line for each one missing or with other bytes."""
    for row in _rows(session):
        report.products += 1
        path = product_path(row, site)
        what = f"{row.logical_path} v{row.version}"
        if not path.is_file():
            report.problems.append(f"{path}: missing ({what} is catalogued there)")
            continue
        size = path.stat().st_size
        digest = sha256_file(path)
        if digest != row.checksum or size != row.size:
            report.problems.append(
                f"{path}: SHA-256 {digest[:16]}... ({size} bytes) differs from the catalogued "
                f"{row.checksum[:16]}... ({row.size} bytes) of {what}"
            )


def verify_outbox(outbox: Path, report: VerifyReport) -> None:
    """Check each export folder of ``outbox`` against its manifest (hidden work folders are skipped)."""
    if not outbox.is_dir():
        return
    for folder in sorted(p for p in outbox.iterdir() if p.is_dir() and not p.name.startswith(".")):
        report.exports += 1
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
            entries = {e["name"]: e for e in manifest["files"]}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            report.problems.append(f"{folder / MANIFEST}: unreadable manifest ({exc})")
            continue
        present = {p.name for p in folder.iterdir() if p.name != MANIFEST}
        for name in sorted(present - set(entries)):
            report.problems.append(f"{folder / name}: not listed in {MANIFEST}")
        for name, entry in sorted(entries.items()):
            path = folder / name
            if not path.is_file():
                report.problems.append(f"{path}: missing (listed in {MANIFEST})")
            elif (digest := sha256_file(path)) != entry.get("sha256") or path.stat().st_size != entry.get(
                "size"
            ):
                report.problems.append(
                    f"{path}: SHA-256 {digest[:16]}... differs from the manifest's {str(entry.get('sha256'))[:16]}..."
                )


def verify(session: Session, site: Site, *, outbox: bool = True) -> VerifyReport:
    """Verify every catalogued product and (with ``outbox``) every export of the site's outbox."""
    report = VerifyReport()
    verify_products(session, site, report)
    if outbox:
        verify_outbox(site.outbox, report)
    return report
