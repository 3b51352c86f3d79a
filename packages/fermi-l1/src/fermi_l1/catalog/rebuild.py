"""Rebuild the data catalog from the product files themselves, after the database was lost.

Everything a catalog row holds is in the file, its name or its bytes, except the provenance:

- data type, run and version: the ICD file name ``gll_<kind>_p<proc>_r<run10>_v<ver3>.fit``,
  checked against the ``VERSION`` keyword of the primary header;
- creator: ``CREATOR``; size and SHA-256: the bytes;
- MET span: the run's span, which is the ``TSTART``/``TSTOP`` of the run's FT2 files (FT2 covers
  the run from its start to its stop, and is what L1 registers for every product of the run); a
  file without an FT2 beside it keeps its own ``TSTART``/``TSTOP``.

The provenance (input checksums, package versions) is not in the files: rebuilt rows record where
they came from instead (``{"rebuilt_from": ..., "date": DATE, "proc_ver": PROC_VER}``).
Rows already in the catalog are kept when their checksum matches the file, and reported as
conflicts (never overwritten) when it does not.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from astropy.io import fits
from sqlalchemy import select
from sqlalchemy.orm import Session

from fermi_core.checksum import sha256_file
from fermi_core.site import Site
from fermi_l1.catalog.api import logical_path, stored_path
from fermi_l1.catalog.models import Dataset
from fermi_l1.naming import ProductName


@dataclass
class RebuildReport:
    """What :func:`rebuild` did."""

    added: list[str] = field(default_factory=list)  # logical path and version of new rows
    kept: int = 0  # rows already present with the same checksum
    conflicts: list[str] = field(default_factory=list)  # present with other bytes: left alone
    skipped: list[str] = field(default_factory=list)  # files that are not readable products

    @property
    def ok(self) -> bool:
        """True when every product file is in the catalog with its own checksum."""
        return not self.conflicts and not self.skipped


@dataclass(frozen=True)
class _Product:
    path: Path
    name: ProductName
    header: fits.Header


def _scan(roots: Iterable[str | os.PathLike[str]], report: RebuildReport) -> list[_Product]:
    products = []
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"{root}: no such product directory")
        for path in sorted(root.rglob("*.fit")):
            if any(part.startswith(".") for part in path.relative_to(root).parts[:-1]):
                # work folder of a killed attempt (fitsdate.product_work_dir): never a product, and
                # the run's next attempt removes it
                continue
            try:
                name = ProductName.parse(path.name)
            except ValueError as exc:
                report.skipped.append(f"{path}: {exc}")
                continue
            try:
                header = fits.getheader(path, 0)
            except (OSError, ValueError) as exc:
                report.skipped.append(f"{path}: unreadable FITS primary header ({exc})")
                continue
            version = str(header.get("VERSION", "")).strip()
            if version and version != str(name.version):
                report.skipped.append(
                    f"{path}: VERSION keyword {version!r} contradicts the file name (v{name.version:03d})"
                )
                continue
            missing = [k for k in ("TSTART", "TSTOP", "CREATOR") if k not in header]
            if missing:
                report.skipped.append(f"{path}: primary header lacks {', '.join(missing)}")
                continue
            products.append(_Product(path, name, header))
    return products


def _run_spans(products: list[_Product]) -> dict[tuple[int, int], tuple[float, float]]:
    spans: dict[tuple[int, int], tuple[float, float]] = {}
    for p in products:
        if p.name.kind in ("ft2", "ft2seconds"):
            spans.setdefault(
                (p.name.run, p.name.version), (float(p.header["TSTART"]), float(p.header["TSTOP"]))
            )
    return spans


def rebuild(
    session: Session, roots: Iterable[str | os.PathLike[str]], site: Site | None = None
) -> RebuildReport:
    """Register every L1 product file under ``roots`` that the catalog lacks.

    The catalog table is created first if it is missing.

    Parameters
    ----------
    session
        Database session (committed by the caller).
    roots
        Product directories, searched recursively for ``gll_*.fit``.

    Raises
    ------
    FileNotFoundError
        A root is not a directory.
    """
    report = RebuildReport()
    products = _scan(roots, report)
    Dataset.__table__.create(session.connection(), checkfirst=True)  # the table itself may be lost
    spans = _run_spans(products)
    for p in products:
        lpath = logical_path(p.name.data_type, p.name.run)
        digest = sha256_file(p.path)
        existing = session.scalars(
            select(Dataset).where(Dataset.logical_path == lpath, Dataset.version == p.name.version)
        ).one_or_none()
        if existing is not None:
            if existing.checksum == digest:
                report.kept += 1
            else:
                report.conflicts.append(
                    f"{p.path}: {lpath} v{p.name.version} is catalogued with checksum "
                    f"{existing.checksum[:12]}..., the file has {digest[:12]}... (left as it is)"
                )
            continue
        start, stop = spans.get(
            (p.name.run, p.name.version), (float(p.header["TSTART"]), float(p.header["TSTOP"]))
        )
        provenance = {
            "rebuilt_from": stored_path(site, p.path.resolve()),
            "date": str(p.header.get("DATE", "")),
            "proc_ver": p.name.proc_ver,
        }
        session.add(
            Dataset(
                logical_path=lpath,
                file_path=stored_path(site, p.path.resolve()),
                data_type=p.name.data_type,
                version=p.name.version,
                run=p.name.run,
                met_start=start,
                met_stop=stop,
                size=p.path.stat().st_size,
                checksum=digest,
                creator=str(p.header["CREATOR"]),
                provenance=json.dumps(provenance, sort_keys=True),
            )
        )
        session.flush()
        report.added.append(f"{lpath} v{p.name.version}")
    return report
