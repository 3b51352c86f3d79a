"""Which product files are compared: two versions of the same runs, found through the data catalog.

A *side* of the comparison maps each LAT run to a file version: the same version for every run
(``--old-version 1``), the latest catalogued one, the one a newer version supersedes, or what a
reprocessing campaign made (:func:`fermi_l1.campaigns.versions_of`). Each run's files are the
catalog rows of that run, type and version; they are re-hashed and must match the catalog.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from fermi_core.checksum import sha256_file
from fermi_core.errors import BadInput
from fermi_core.site import Site
from fermi_l1.catalog.api import product_path, query


class SelectionError(BadInput, ValueError):
    """The versions to compare cannot be found, or a catalogued file is missing or changed."""


@dataclass(frozen=True)
class Product:
    """One catalogued product file of a side."""

    run: int
    data_type: str
    version: int
    path: Path
    checksum: str
    logical_path: str


@dataclass(frozen=True)
class Side:
    """One side of the comparison: a label and, per run, the version and its product files."""

    label: str
    versions: dict[int, int]
    products: dict[tuple[int, str], Product] = field(default_factory=dict)

    def files(self, data_type: str) -> list[Product]:
        """The products of ``data_type``, one per run, in run order."""
        return [self.products[(run, data_type)] for run in sorted(self.versions)]


def parse_runs(values: Iterable[str]) -> list[int]:
    """Run ids from ``239557414``, ``r0239557414`` or comma-separated lists of them."""
    runs: list[int] = []
    for value in values:
        for token in str(value).replace(",", " ").split():
            digits = token[1:] if token[:1] in "rR" else token
            if not digits.isdigit():
                raise SelectionError(f"--runs: {token!r} is not a run id (239557414 or r0239557414)")
            runs.append(int(digits))
    return sorted(set(runs))


def _catalogued_versions(session: Session, run: int, data_type: str) -> list[int]:
    return sorted({row.version for row in query(session, data_type=data_type, run=run)})


def fixed_versions(
    session: Session, runs: Sequence[int], version: int | None, data_type: str
) -> dict[int, int]:
    """``{run: version}`` for every run: ``version``, or the latest catalogued one when None."""
    out = {}
    for run in runs:
        have = _catalogued_versions(session, run, data_type)
        if not have:
            raise SelectionError(f"run {run}: no {data_type} product in the data catalog")
        if version is None:
            out[run] = have[-1]
        elif int(version) in have:
            out[run] = int(version)
        else:
            raise SelectionError(
                f"run {run}: no {data_type} version {version} in the data catalog "
                f"(catalogued: {', '.join(map(str, have))})"
            )
    return out


def previous_versions(session: Session, newer: dict[int, int], data_type: str) -> dict[int, int]:
    """``{run: the highest catalogued version below newer[run]}``."""
    out = {}
    for run, version in newer.items():
        below = [v for v in _catalogued_versions(session, run, data_type) if v < version]
        if not below:
            raise SelectionError(f"run {run}: no {data_type} version older than {version} to compare with")
        out[run] = below[-1]
    return out


def campaign_versions(session: Session, campaign: str | int) -> dict[int, int]:
    """``{run: version}`` that reprocessing campaign ``campaign`` made (interface G of the L1)."""
    try:
        from fermi_l1.campaigns import versions_of
    except ImportError:
        raise SelectionError(
            "campaigns are not available in this fermi-l1; compare explicit versions"
        ) from None
    try:
        versions = versions_of(session, campaign)
    except (LookupError, ValueError) as exc:
        raise SelectionError(f"campaign {campaign}: {exc}") from None
    if not versions:
        raise SelectionError(f"campaign {campaign}: made no product version")
    return {int(run): int(v) for run, v in versions.items()}


def load_side(
    session: Session, site: Site, label: str, versions: dict[int, int], data_types: Iterable[str]
) -> Side:
    """Find, and re-hash, the product files of ``data_types`` of each run at its version.

    Raises
    ------
    SelectionError
        A run lacks a product of that version, or its file is missing or no longer matches the
        checksum in the catalog.
    """
    side = Side(label, dict(sorted(versions.items())))
    for run, version in side.versions.items():
        for data_type in dict.fromkeys(data_types):
            rows = [r for r in query(session, data_type=data_type, run=run) if r.version == version]
            if not rows:
                have = _catalogued_versions(session, run, data_type)
                hint = (
                    " -- is the campaign done? see 'fermi-l1 campaigns'"
                    if label.startswith("campaign")
                    else ""
                )
                raise SelectionError(
                    f"{label}: run {run} has no {data_type} version {version} in the data catalog "
                    f"(catalogued: {', '.join(map(str, have)) or 'none'}){hint}"
                )
            row = rows[0]
            path = product_path(row, site)
            if not path.is_file():
                raise SelectionError(f"{path}: catalogued {row.logical_path} v{version} is missing")
            digest = sha256_file(path)
            if digest != row.checksum:
                raise SelectionError(
                    f"{path}: SHA-256 {digest[:12]}... differs from the catalog's {row.checksum[:12]}... "
                    f"({row.logical_path} v{version} changed after registration)"
                )
            side.products[(run, data_type)] = Product(run, data_type, version, path, digest, row.logical_path)
    return side
