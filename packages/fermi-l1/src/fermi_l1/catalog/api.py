"""Register products in the data catalog and query them by type, run and MET range.

Logical paths follow the layout of the L1 Data Catalog: ``/Data/Flight/Level1/LPA/<TYPE>/r<run10>``.
Registration is idempotent: the same logical path, version and checksum give back the existing
row; the same logical path and version with *different* bytes is refused (a published version
never changes). Every version of a logical path is kept; a new one records the version it
``supersedes`` (the highest one below it), and "latest" is a query (:func:`query` with
``latest_only``, :func:`latest_version`, :func:`superseded_by`), never a file overwrite.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fermi_core.checksum import sha256_file
from fermi_core.errors import BadInput
from fermi_core.site import Site, run_folder
from fermi_l1.catalog.models import Dataset

LOGICAL_ROOT = "/Data/Flight/Level1/LPA"
#: Distributions whose versions are recorded in every provenance.
PACKAGES = ("fermi-l1", "fermi-sciencetools-shim", "fermi-halfpipe", "fermi-ingest", "numpy", "astropy")


class CatalogError(BadInput, ValueError):
    """A registration that contradicts the catalog, or a file that cannot be registered."""


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str]:
    """Return ``{distribution: version}`` of the installed packages (missing ones are skipped)."""
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def logical_path(data_type: str, run: int | None, name: str | None = None) -> str:
    """Return the logical path of a dataset (run products by run; others by file name)."""
    leaf = run_folder(run) if run is not None else str(name)
    return f"{LOGICAL_ROOT}/{data_type.upper()}/{leaf}"


def stored_path(site: Site | None, path: str | os.PathLike[str]) -> str:
    """How a path is recorded: relative to the data home when it is inside it, else as given."""
    if site is not None:
        try:
            return site.relative(path)
        except ValueError:
            pass
    return str(Path(path))


def product_path(dataset: Dataset, site: Site) -> Path:
    """The file of a catalogued dataset in the data home ``site`` (older rows hold absolute paths)."""
    return site.resolve(dataset.file_path)


@dataclass(frozen=True)
class Registration:
    """Result of :func:`register`: the row and whether it was created now."""

    dataset: Dataset
    created: bool


def register(
    session: Session,
    path: str | os.PathLike[str],
    *,
    data_type: str,
    version: int,
    met_start: float,
    met_stop: float,
    run: int | None = None,
    creator: str = "fermi-l1",
    inputs: Sequence[str | os.PathLike[str]] = (),
    parameters: Mapping[str, object] | None = None,
    checksum: str | None = None,
    site: Site | None = None,
    proc_ver: int | None = None,
    lost_events: int | None = None,
    extra_provenance: Mapping[str, object] | None = None,
) -> Registration:
    """Register one product file.

    Parameters
    ----------
    session
        Database session (committed by the caller).
    path
        The product file (must exist).
    data_type, version, met_start, met_stop, run, creator
        Catalog metadata (``data_type`` upper-cased: FT1, EXTENDEDFT1, LS1, FT2, FT2SECONDS ...).
    inputs
        Input files; their SHA-256 are recorded in the provenance.
    parameters
        Processing parameters recorded in the provenance.
    checksum
        SHA-256 of ``path`` if already known.
    site
        The data home: the file's and the inputs' paths are recorded relative to it (absolute
        when not given, or for files outside it).
    proc_ver
        Processing version of the file (its name's ``pNNN``).
    lost_events
        Events the run lost in missing datagrams (0 when complete; None: not known).
    extra_provenance
        More provenance (halfpipe revision and completion, the run's source files, campaign),
        recorded beside ``inputs``, ``packages`` and ``parameters``.

    Raises
    ------
    CatalogError
        If the file is missing, or this logical path and version already hold other bytes.
    """
    p = Path(path)
    if not p.is_file():
        raise CatalogError(f"{p}: no such file to register")
    if met_stop < met_start:
        raise CatalogError(f"{p}: nMetStop {met_stop!r} < nMetStart {met_start!r}")
    digest = checksum or sha256_file(p)
    lpath = logical_path(data_type, run, p.name)
    existing = session.scalars(
        select(Dataset).where(Dataset.logical_path == lpath, Dataset.version == int(version))
    ).one_or_none()
    if existing is not None:
        if existing.checksum != digest:
            raise CatalogError(
                f"{p}: {lpath} version {version} is already registered with checksum "
                f"{existing.checksum[:12]}..., this file has {digest[:12]}... (make a new version)"
            )
        return Registration(existing, False)
    provenance = {
        **dict(extra_provenance or {}),
        "inputs": [{"path": stored_path(site, i), "sha256": sha256_file(i)} for i in inputs],
        "packages": package_versions(),
        "parameters": dict(parameters or {}),
    }
    below = session.scalar(
        select(func.max(Dataset.version)).where(Dataset.logical_path == lpath, Dataset.version < int(version))
    )
    row = Dataset(
        logical_path=lpath,
        file_path=stored_path(site, p.resolve()),
        data_type=data_type.upper(),
        version=int(version),
        run=None if run is None else int(run),
        met_start=float(met_start),
        met_stop=float(met_stop),
        size=p.stat().st_size,
        checksum=digest,
        creator=creator,
        provenance=json.dumps(provenance, sort_keys=True),
        proc_ver=None if proc_ver is None else int(proc_ver),
        supersedes=None if below is None else int(below),
        lost_events=None if lost_events is None else int(lost_events),
    )
    session.add(row)
    session.flush()
    return Registration(row, True)


def query(
    session: Session,
    *,
    data_type: str | None = None,
    met_min: float | None = None,
    met_max: float | None = None,
    run: int | None = None,
    latest_only: bool = False,
) -> list[Dataset]:
    """Return datasets of a type overlapping ``[met_min, met_max]``, ordered by start then version.

    With ``latest_only`` only the highest version of each logical path is returned.
    """
    stmt = select(Dataset)
    if data_type is not None:
        stmt = stmt.where(Dataset.data_type == data_type.upper())
    if met_min is not None:
        stmt = stmt.where(Dataset.met_stop >= float(met_min))
    if met_max is not None:
        stmt = stmt.where(Dataset.met_start <= float(met_max))
    if run is not None:
        stmt = stmt.where(Dataset.run == int(run))
    rows = list(session.scalars(stmt.order_by(Dataset.met_start, Dataset.logical_path, Dataset.version)))
    if latest_only:
        best: dict[str, Dataset] = {}
        for row in rows:
            if row.logical_path not in best or row.version > best[row.logical_path].version:
                best[row.logical_path] = row
        rows = [r for r in rows if best[r.logical_path] is r]
    return rows


def latest_version(session: Session, run: int) -> int | None:
    """The highest catalogued version of any product of LAT run ``run`` (None if it has none)."""
    return session.scalar(select(func.max(Dataset.version)).where(Dataset.run == int(run)))


def superseded_by(session: Session, dataset: Dataset) -> int | None:
    """The version that supersedes ``dataset`` (the next one of its logical path), or None if it is the latest."""
    return session.scalar(
        select(func.min(Dataset.version)).where(
            Dataset.logical_path == dataset.logical_path, Dataset.version > dataset.version
        )
    )


def catalogued_runs(
    session: Session, *, met_min: float | None = None, met_max: float | None = None
) -> list[int]:
    """LAT runs with catalogued products overlapping ``[met_min, met_max]`` (all by default), by id."""
    stmt = select(Dataset.run).where(Dataset.run.is_not(None)).distinct()
    if met_min is not None:
        stmt = stmt.where(Dataset.met_stop >= float(met_min))
    if met_max is not None:
        stmt = stmt.where(Dataset.met_start <= float(met_max))
    return sorted(int(r) for r in session.scalars(stmt))
