"""Intermediate outputs moved aside by re-runs (``.rerun-<request id>/`` folders): report and clean.

When the pipeline driver acts on a re-run request it moves the recon crumbs and run inputs of the
requeued task runs next to themselves under ``.rerun-<id>/`` (:mod:`fermi_core.engine.rerun`), so that
they are recomputed and the old ones stay for comparison. Nothing removes them: they accumulate.

:func:`rerun_folders` finds them under the L1 data tree with their size, age (since the folder
was last changed, i.e. when the outputs were moved there) and the state of their request;
:func:`clean_reruns` removes those older than N days whose request is settled and whose outputs
nobody needs any more:

* ``done``: the re-run re-made everything; the folder holds only superseded intermediates.
* ``failed`` (the engine settled it with a target failed or cancelled): the folder holds the last
  outputs made *before* the failed re-run -- what an operator may move back, or compare with,
  while diagnosing it. It is kept until a later request for the same subject (the same task run,
  or a whole-run re-run of its LAT run) ended ``done``: then that run's outputs were re-made and
  the folder is as disposable as a done one's (:attr:`RerunFolder.replaced_by`).

A folder whose request is pending (``requested``, ``queued``), ``refused`` or ``superseded`` (no
driver moved anything for those: a folder there is unexpected), failed without a later done
re-run, or unknown to the database is never removed; the reason is reported.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from fermi_core.engine.models import RerunRequest
from fermi_core.engine.states import PENDING, RequestState
from fermi_isoc.queries.tables import has_tables

_FOLDER = re.compile(r"^\.rerun-(\d+)$")
#: the request state whose moved-aside outputs may be removed (once old enough)
REMOVABLE_STATE = RequestState.DONE.value
#: the request state whose moved-aside outputs may be removed once a later re-run of the same subject is done
FAILED_STATE = RequestState.FAILED.value


@dataclass(frozen=True)
class RerunFolder:
    """One ``.rerun-<id>/`` folder: where, how big, how old, and the state of its request."""

    path: Path
    request_id: int
    request_state: str | None  # None: no such request in the database
    n_files: int
    n_bytes: int
    age_days: float
    #: what the request re-ran (``TASK/KEY`` or a LAT run), None when unknown
    subject: str | None = None
    #: a later ``done`` request for the same subject (only looked up for a failed request)
    replaced_by: int | None = None

    def removable(self, older_than_days: float) -> bool:
        """True when nobody needs the folder any more (module docstring) and it is older than ``older_than_days``."""
        return self.why_kept(older_than_days) == ""

    def why_kept(self, older_than_days: float) -> str:
        """Why :func:`clean_reruns` keeps the folder (empty when it is removable)."""
        if self.request_state is None:
            return f"request {self.request_id} is not in the database"
        if self.request_state == FAILED_STATE and self.replaced_by is None:
            return (
                f"request {self.request_id} failed: these are the outputs from before it, kept until a later "
                f"re-run of {self.subject} is done"
            )
        if self.request_state not in (REMOVABLE_STATE, FAILED_STATE):
            pending = " (pending)" if self.request_state in PENDING else ""
            return f"request {self.request_id} is {self.request_state}{pending}"
        if self.age_days <= older_than_days:
            return f"{self.age_days:.1f} days old, not older than {older_than_days:g}"
        return ""


@dataclass
class CleanResult:
    """What :func:`clean_reruns` removed, kept (with the reason) and could not remove."""

    removed: list[RerunFolder] = field(default_factory=list)
    kept: list[tuple[RerunFolder, str]] = field(default_factory=list)
    errors: list[tuple[RerunFolder, str]] = field(default_factory=list)


def _size(folder: Path) -> tuple[int, int]:
    n_files = n_bytes = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except FileNotFoundError:
                continue
            n_files += 1
            n_bytes += st.st_size
    return n_files, n_bytes


def _lat_run_of(subject: str) -> str:
    """The LAT run a request subject belongs to (``recon/r0239557414.c0000.k000`` -> ``r0239557414``)."""
    return subject.rpartition("/")[2].partition(".")[0]


def _requests(session: Session, ids: set[int]) -> dict[int, tuple[str, str, int | None]]:
    """``{request id: (state, subject, later done request of that subject or None)}``.

    The later done request is looked up for failed requests only: one with a higher id whose
    subject is the same, or that re-ran the whole LAT run the subject belongs to.
    """
    if not ids or not has_tables(session, RerunRequest.__tablename__):
        return {}
    rows = session.execute(
        select(RerunRequest.id, RerunRequest.state, RerunRequest.run).where(RerunRequest.id.in_(ids))
    ).all()
    failed = [(int(i), run) for i, st, run in rows if st == FAILED_STATE]
    later: dict[int, int] = {}
    if failed:
        done = session.execute(
            select(RerunRequest.id, RerunRequest.run, RerunRequest.step)
            .where(RerunRequest.state == REMOVABLE_STATE, RerunRequest.id > min(i for i, _ in failed))
            .order_by(RerunRequest.id)
        ).all()
        for rid, run in failed:
            for did, drun, dstep in done:
                if did > rid and (drun == run or (dstep is None and drun == _lat_run_of(run))):
                    later[rid] = int(did)
                    break
    return {int(i): (st, run, later.get(int(i))) for i, st, run in rows}


def rerun_folders(session: Session, root: str | Path, now: datetime | None = None) -> list[RerunFolder]:
    """Every ``.rerun-<id>/`` folder under ``root`` (e.g. ``$FERMI_HOME/l1``), sorted by path.

    Parameters
    ----------
    session : Session
        Database session (reads the task engine's re-run requests).
    root : str or Path
        Folder searched recursively (a missing folder has none).
    now : datetime, optional
        Reference time for the ages (default: now, UTC).
    """
    now_s = (now or datetime.now(timezone.utc)).timestamp()
    found: list[tuple[Path, int]] = []
    for here, dirs, _files in os.walk(root):
        for name in list(dirs):
            m = _FOLDER.match(name)
            if m:
                found.append((Path(here) / name, int(m.group(1))))
                dirs.remove(name)  # its content is reported as one folder
    requests = _requests(session, {rid for _, rid in found})
    out = []
    for path, rid in sorted(found):
        n_files, n_bytes = _size(path)
        age = (now_s - path.stat().st_mtime) / 86400.0
        state, subject, replaced_by = requests.get(rid, (None, None, None))
        out.append(RerunFolder(path, rid, state, n_files, n_bytes, age, subject, replaced_by))
    return out


def clean_reruns(
    session: Session,
    root: str | Path,
    older_than_days: float,
    now: datetime | None = None,
    dry_run: bool = False,
) -> CleanResult:
    """Remove the ``.rerun-<id>/`` folders under ``root`` nobody needs (module docstring) older than N days.

    Parameters
    ----------
    session : Session
        Database session (reads the requests' states).
    root : str or Path
        Folder searched recursively.
    older_than_days : float
        Minimum age in days (positive) of a folder to remove.
    now : datetime, optional
        Reference time (default: now, UTC).
    dry_run : bool
        Report what would be removed, remove nothing.

    Raises
    ------
    ValueError
        ``older_than_days`` is not positive.
    """
    if not older_than_days > 0:
        raise ValueError(f"older_than_days must be positive, got {older_than_days!r}")
    result = CleanResult()
    for folder in rerun_folders(session, root, now):
        reason = folder.why_kept(older_than_days)
        if reason:
            result.kept.append((folder, reason))
            continue
        if not dry_run:
            try:
                shutil.rmtree(folder.path)
            except OSError as exc:
                result.errors.append((folder, f"{exc.filename or folder.path}: {exc.strerror or exc}"))
                continue
        result.removed.append(folder)
    return result


def human_bytes(n: int) -> str:
    """``n`` bytes as a short text (``12.3 MB``)."""
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000:
            return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"
