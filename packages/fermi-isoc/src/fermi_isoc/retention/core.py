"""Move raw deliveries older than N days to the archive area, never deleting an unverified copy.

For each delivery older than ``keep_days`` (by the time it was registered) every file is copied
to ``<archive root>/<delivery id>/<file name>`` through a temporary name and a rename, then read
back from the archive and hashed. Only when every file of the delivery has an archive copy whose
SHA-256 equals the one registered at ingest are the local files removed. An archive copy that
already exists is never overwritten: if it does not match it is reported as corrupt and the
local copy stays.

:func:`check` reports, without changing anything: deliveries overdue (older than ``keep_days``
and still on disk), files missing (neither a local nor an archive copy, or a local copy gone
before its archive copy was verified) and corrupt copies (local or archive bytes that do not
match the registered checksum).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from fermi_core.atomic import atomic_copy
from fermi_core.checksum import sha256_file
from fermi_core.site import Site
from fermi_ingest.models import Delivery, DeliveryFile
from fermi_isoc.models import ArchiveCopy

DEFAULT_KEEP_DAYS = 60

Copier = Callable[[Path, Path], None]


def tape_copy(src: Path, dest: Path) -> None:
    """The default copier: :func:`fermi_core.atomic.atomic_copy` (temporary name, fsync, rename)."""
    atomic_copy(src, dest)


@dataclass(frozen=True)
class Finding:
    """One problem or action on one file (or one delivery when ``name`` is empty)."""

    delivery_id: str
    name: str
    kind: str  # overdue | missing | corrupt-local | corrupt-archive | archived | deleted-local
    detail: str


@dataclass
class MigrationResult:
    """What :func:`migrate` did."""

    archived: list[Finding] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)  # delivery ids whose local copy was removed
    problems: list[Finding] = field(default_factory=list)


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _due(session: Session, now: datetime, keep_days: float) -> list[Delivery]:
    cutoff = now - timedelta(days=keep_days)
    rows = session.scalars(select(Delivery).order_by(Delivery.ingested_at)).all()
    return [d for d in rows if _utc(d.ingested_at) < cutoff]


def _archive_path(root: Path, delivery_id: str, name: str) -> Path:
    return root / delivery_id / name


def _record(session: Session, d: Delivery, f: DeliveryFile, dest: Path, now: datetime) -> ArchiveCopy:
    row = session.scalar(
        select(ArchiveCopy).where(ArchiveCopy.delivery_id == d.delivery_id, ArchiveCopy.name == f.name)
    )
    if row is None:
        row = ArchiveCopy(
            delivery_id=d.delivery_id,
            name=f.name,
            local_path=f.archive_path,
            archive_path=str(dest),
            sha256=f.sha256,
        )
        session.add(row)
    row.verified_at = now
    return row


def migrate(
    session: Session,
    archive_root: str | Path,
    now: datetime | None = None,
    keep_days: float = DEFAULT_KEEP_DAYS,
    dry_run: bool = False,
    copier: Copier = tape_copy,
    site: Site | None = None,
) -> MigrationResult:
    """Archive deliveries older than ``keep_days`` and remove their local copy once verified.

    Parameters
    ----------
    session : Session
        Database session (reads ingest's deliveries, writes isoc's archive-copy rows).
    archive_root : str or Path
        The archive area (tape stand-in).
    now : datetime, optional
        Reference time (default: now, UTC).
    keep_days : float
        Days a delivery stays on local disk.
    dry_run : bool
        Report what would be done, copy and delete nothing.
    copier : callable
        ``copier(src, dest)`` writes the archive copy (a hook for tape systems and tests).
    """
    root = Path(archive_root)
    site = site or Site.from_env()
    now = now or datetime.now(timezone.utc)
    result = MigrationResult()
    for d in _due(session, now, keep_days):
        verified = True
        pending: list[tuple[DeliveryFile, Path]] = []
        for f in d.files:
            local = site.resolve(f.archive_path)
            dest = _archive_path(root, d.delivery_id, f.name)
            if dest.exists():
                got = sha256_file(dest)
                if got != f.sha256:
                    result.problems.append(
                        Finding(d.delivery_id, f.name, "corrupt-archive",
                                f"{dest}: SHA-256 {got} != registered {f.sha256}; left untouched, local copy kept")
                    )  # fmt: skip
                    verified = False
                    continue
                pending.append((f, dest))
                continue
            if not local.exists():
                result.problems.append(
                    Finding(
                        d.delivery_id,
                        f.name,
                        "missing",
                        f"{local}: no local copy and no archive copy at {dest}",
                    )
                )
                verified = False
                continue
            local_sha = sha256_file(local)
            if local_sha != f.sha256:
                result.problems.append(
                    Finding(d.delivery_id, f.name, "corrupt-local",
                            f"{local}: SHA-256 {local_sha} != registered {f.sha256}; not archived")
                )  # fmt: skip
                verified = False
                continue
            if dry_run:
                result.archived.append(
                    Finding(d.delivery_id, f.name, "archived", f"would copy {local} -> {dest}")
                )
                continue
            copier(local, dest)
            got = sha256_file(dest) if dest.exists() else "(no file written)"
            if got != f.sha256:
                result.problems.append(
                    Finding(d.delivery_id, f.name, "corrupt-archive",
                            f"{dest}: SHA-256 after copy {got} != registered {f.sha256}; local copy kept")
                )  # fmt: skip
                verified = False
                continue
            result.archived.append(Finding(d.delivery_id, f.name, "archived", f"{local} -> {dest} verified"))
            pending.append((f, dest))
        if dry_run or not verified or not d.files:
            continue
        for f, dest in pending:
            row = _record(session, d, f, dest, now)
            local = site.resolve(f.archive_path)
            if local.exists():
                local.unlink()
                row.local_deleted_at = now
        local_dir = site.resolve(d.archive_dir)
        if local_dir.is_dir() and not any(local_dir.iterdir()):
            local_dir.rmdir()
        session.flush()
        result.deleted.append(d.delivery_id)
    return result


def check(
    session: Session,
    archive_root: str | Path,
    now: datetime | None = None,
    keep_days: float = DEFAULT_KEEP_DAYS,
    verify_local: bool = True,
    site: Site | None = None,
) -> list[Finding]:
    """Report overdue deliveries, missing files and corrupt copies; change nothing."""
    root = Path(archive_root)
    site = site or Site.from_env()
    now = now or datetime.now(timezone.utc)
    cutoff = now - timedelta(days=keep_days)
    findings: list[Finding] = []
    for d in session.scalars(select(Delivery).order_by(Delivery.ingested_at)):
        old = _utc(d.ingested_at) < cutoff
        any_local = False
        for f in d.files:
            local = site.resolve(f.archive_path)
            dest = _archive_path(root, d.delivery_id, f.name)
            has_local, has_archive = local.exists(), dest.exists()
            any_local |= has_local
            if has_archive:
                got = sha256_file(dest)
                if got != f.sha256:
                    findings.append(
                        Finding(
                            d.delivery_id, f.name, "corrupt-archive", f"{dest}: SHA-256 {got} != {f.sha256}"
                        )
                    )
            if has_local and verify_local:
                got = sha256_file(local)
                if got != f.sha256:
                    findings.append(
                        Finding(
                            d.delivery_id, f.name, "corrupt-local", f"{local}: SHA-256 {got} != {f.sha256}"
                        )
                    )
            if not has_local and not has_archive:
                findings.append(
                    Finding(d.delivery_id, f.name, "missing", f"neither {local} nor {dest} exists")
                )
            elif not has_local and old is False:
                findings.append(
                    Finding(d.delivery_id, f.name, "missing",
                            f"{local}: local copy gone before the {keep_days:g}-day retention ended")
                )  # fmt: skip
        if old and any_local:
            age = (now - _utc(d.ingested_at)).days
            findings.append(
                Finding(d.delivery_id, "", "overdue", f"{age} days on disk (keep {keep_days:g}): archive it")
            )
    return findings
