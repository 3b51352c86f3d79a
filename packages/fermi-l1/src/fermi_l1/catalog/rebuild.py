"""Rebuild the data catalog from the product files themselves, after the database was lost.

Everything a catalog row holds is in the file, its name or its bytes, except the provenance:

- data type, run and version: the ICD file name ``gll_<kind>_p<proc>_r<run10>_v<ver3>.fit``,
  checked against the ``VERSION`` keyword of the primary header;
- creator: ``CREATOR``; size and SHA-256: the bytes;
- MET span: the run's span, which is the ``TSTART``/``TSTOP`` of the run's FT2 files (FT2 covers
  the run from its start to its stop, and is what L1 registers for every product of the run); a
  file without an FT2 beside it keeps its own ``TSTART``/``TSTOP``.

The monitoring's MONITOR files (``gll_mon_r<run10>_v<ver3>.parquet``, not FITS) are rebuilt the
same way: run and version from the name, checked against their ``fermi.run``/``fermi.version``
schema metadata; creator :data:`fermi_l1.monitoring.step.CREATOR` (the only one that writes them);
span: the run version's FT2 span (L1 registers the MONITOR file with the run's span too). A
MONITOR file without an FT2 of its run version is skipped with the reason (it has no span of its own).

The provenance (input checksums, package versions) is not in the files: rebuilt rows record where
they came from instead (``{"rebuilt_from": ..., "date": DATE, "proc_ver": PROC_VER}``).
Rows already in the catalog are kept when their checksum matches the file, and reported as
conflicts (never overwritten) when it does not.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from astropy.io import fits
from sqlalchemy import select
from sqlalchemy.orm import Session

from fermi_core.checksum import sha256_file
from fermi_core.site import Site, run_version_folder
from fermi_l1.catalog.api import logical_path, stored_path
from fermi_l1.catalog.models import Dataset
from fermi_l1.monitoring.histograms import DATA_TYPE as MONITOR
from fermi_l1.monitoring.histograms import FORMAT as MONITOR_FORMAT
from fermi_l1.monitoring.step import CREATOR as MONITOR_CREATOR
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


@dataclass(frozen=True)
class _Monitor:
    path: Path
    run: int
    version: int


_MONITOR_NAME = re.compile(r"gll_mon_r(\d{10})_v(\d{3})\.parquet")


def _scan_monitor(root: Path, report: RebuildReport) -> list[_Monitor]:
    out = []
    for path in sorted(root.rglob("gll_mon_*.parquet")):
        if any(part.startswith(".") for part in path.relative_to(root).parts[:-1]):
            continue
        m = _MONITOR_NAME.fullmatch(path.name)
        if m is None:
            report.skipped.append(f"{path}: not a MONITOR file name (gll_mon_r<run10>_v<ver3>.parquet)")
            continue
        run, version = int(m[1]), int(m[2])
        try:
            meta = pq.read_schema(path).metadata or {}
        except (OSError, pa.ArrowException) as exc:
            report.skipped.append(f"{path}: unreadable Parquet schema ({exc})")
            continue
        if meta.get(b"fermi.format") != MONITOR_FORMAT:
            report.skipped.append(f"{path}: no fermi.format={MONITOR_FORMAT.decode()} metadata")
            continue
        said = (meta.get(b"fermi.run", b"").decode(), meta.get(b"fermi.version", b"").decode())
        if said != (str(run), str(version)):
            report.skipped.append(
                f"{path}: metadata fermi.run/fermi.version {said[0]!r}/{said[1]!r} contradict the file name"
            )
            continue
        out.append(_Monitor(path, run, version))
    return out


def _scan(
    roots: Iterable[str | os.PathLike[str]], report: RebuildReport
) -> tuple[list[_Product], list[_Monitor]]:
    products = []
    monitors = []
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"{root}: no such product directory")
        monitors += _scan_monitor(root, report)
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
    return products, monitors


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
    products, monitors = _scan(roots, report)
    Dataset.__table__.create(session.connection(), checkfirst=True)  # the table itself may be lost
    spans = _run_spans(products)

    def catalogued(path: Path, lpath: str, version: int) -> tuple[bool, str]:
        digest = sha256_file(path)
        existing = session.scalars(
            select(Dataset).where(Dataset.logical_path == lpath, Dataset.version == version)
        ).one_or_none()
        if existing is None:
            return False, digest
        if existing.checksum == digest:
            report.kept += 1
        else:
            report.conflicts.append(
                f"{path}: {lpath} v{version} is catalogued with checksum "
                f"{existing.checksum[:12]}..., the file has {digest[:12]}... (left as it is)"
            )
        return True, digest

    for p in products:
        lpath = logical_path(p.name.data_type, p.name.run)
        present, digest = catalogued(p.path, lpath, p.name.version)
        if present:
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
    for m in monitors:
        span = spans.get((m.run, m.version))
        if span is None:
            report.skipped.append(
                f"{m.path}: no FT2 of {run_version_folder(m.run, m.version)} beside it to give its span"
            )
            continue
        lpath = logical_path(MONITOR, m.run)
        present, digest = catalogued(m.path, lpath, m.version)
        if present:
            continue
        session.add(
            Dataset(
                logical_path=lpath,
                file_path=stored_path(site, m.path.resolve()),
                data_type=MONITOR,
                version=m.version,
                run=m.run,
                met_start=span[0],
                met_stop=span[1],
                size=m.path.stat().st_size,
                checksum=digest,
                creator=MONITOR_CREATOR,
                provenance=json.dumps({"rebuilt_from": stored_path(site, m.path.resolve())}, sort_keys=True),
            )
        )
        session.flush()
        report.added.append(f"{lpath} v{m.version}")
    return report
