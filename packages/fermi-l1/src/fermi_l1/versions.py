"""Which versions of the runs' products are to be made: first products, late data, campaigns.

A *run version* (:class:`~fermi_l1.catalog.models.RunVersion`) is planned before it is made and
never changes: its inputs (the halfpipe's merged files and spacecraft files of one halfpipe
revision, with their SHA-256) are fixed in its ``plan``, so each version is always made from the
same files and never from another version's. Version 1 of a run is planned when the halfpipe
first retires it; the next version when the halfpipe's revision of the run is newer than the one
the latest version was made from (late data), or when a campaign asks for it
(:mod:`fermi_l1.campaigns`), or when the active bad time intervals overlapping the run are no longer the
ones the latest version was made with (:mod:`fermi_l1.quality.intervals`: an interval flagged or
removed; the version's plan records its ``bad_times``, which set the FT2 ``DATA_QUAL``). Each version has its own input and work folders and its own task
keys (:func:`fermi_core.site.run_version_folder`), so a new version is new work for the engine and
the intermediate files of the older ones stay as they are. See ``docs/lifecycle/versions.md``.

What the halfpipe says of a run comes from :class:`fermi_halfpipe.published.RetiredRun`
(``revision``, ``completion``, ``lost_events``; interface A of the data-lifecycle work).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fermi_core.site import run_version_folder
from fermi_l1.catalog.api import latest_version
from fermi_l1.catalog.models import RunVersion
from fermi_l1.naming import KINDS
from fermi_l1.quality.intervals import bad_times as quality_bad_times
from fermi_l1.quality.intervals import bad_times_in, list_intervals

#: processing version of the event files unless a campaign gives another (P8R3)
DEFAULT_PROC_VER = KINDS["ft1"][1]


@dataclass(frozen=True)
class HalfpipeState:
    """What the halfpipe says of a retired run: its revision, how it was completed, its loss."""

    revision: int
    completion: str
    lost_events: int
    reason: str


def halfpipe_state(run: Any) -> HalfpipeState:
    """The :class:`HalfpipeState` of a :class:`fermi_halfpipe.published.RetiredRun`."""
    return HalfpipeState(int(run.revision), str(run.completion), int(run.lost_events), str(run.reason or ""))


def _records(files: Iterable[Any]) -> list[dict[str, Any]]:
    """File records of a plan: ``path`` is the home-relative path, as stored."""
    return [{**vars(f), "path": f.relpath} for f in files]


def plan_of(run: Any, bad_times: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """The ``plan`` JSON of a retired run: span, merged files and spacecraft files (home-relative), and
    the bad time intervals overlapping it (:meth:`fermi_l1.quality.intervals.BadTimeInterval.plan_entry`)."""
    return {
        "start": float(run.start),
        "stop": float(run.stop),
        "files": _records(run.files),
        "spacecraft": _records(run.spacecraft),
        "bad_times": [dict(b) for b in bad_times],
        # the run's configuration keys (hw_key, sw_key, moot_key): FT1/FT2 headers and provenance
        "config_keys": dict(getattr(run, "config_keys", None) or {}),
    }


def _quality_key(bad_times: Sequence[dict[str, Any]]) -> list[tuple[int, float, float, int]]:
    """What decides whether two plans flag the same time: the intervals' ids, spans and values."""
    return sorted((int(b["id"]), float(b["start"]), float(b["stop"]), int(b["data_qual"])) for b in bad_times)


def quality_change(old: Sequence[dict[str, Any]], new: Sequence[dict[str, Any]]) -> str:
    """Why a run needs a new version for its bad time intervals (``""``: the same intervals)."""
    if _quality_key(old) == _quality_key(new):
        return ""
    before, after = {int(b["id"]) for b in old}, {int(b["id"]) for b in new}
    parts = []
    if added := sorted(after - before):
        parts.append("bad time interval(s) " + ", ".join(map(str, added)) + " flagged")
    if removed := sorted(before - after):
        parts.append("bad time interval(s) " + ", ".join(map(str, removed)) + " removed")
    if not parts:
        parts.append("bad time interval(s) changed")
    return "quality flags: " + "; ".join(parts)


@dataclass(frozen=True)
class PlannedVersion:
    """One version of one run's products, as recorded in ``l1_run_version``."""

    run: int
    version: int
    proc_ver: int
    halfpipe_revision: int
    completion: str
    lost_events: int
    reason: str
    campaign_id: int | None
    plan: dict[str, Any]

    @property
    def key(self) -> str:
        """Task key and folder name of this version (``r<run10>``, ``r<run10>.v002``)."""
        return run_version_folder(self.run, self.version)

    @property
    def bad_times(self) -> list[dict[str, Any]]:
        """The bad time intervals this version is made with (they set the FT2 ``DATA_QUAL``)."""
        return [dict(b) for b in self.plan.get("bad_times") or ()]

    def pass_info(self) -> dict[str, Any]:
        """What the run input folder records of this version (read back by the ``l1run`` task);
        ``bad_times`` only when the version has some."""
        info: dict[str, Any] = {
            "version": self.version,
            "proc_ver": self.proc_ver,
            "halfpipe_revision": self.halfpipe_revision,
            "completion": self.completion,
            "lost_events": self.lost_events,
            "campaign": self.campaign_id,
        }
        if self.bad_times:
            info["bad_times"] = self.bad_times
        if self.plan.get("config_keys"):
            info["config_keys"] = dict(self.plan["config_keys"])
        return info

    @classmethod
    def of(cls, row: RunVersion) -> PlannedVersion:
        """The planned version of a table row."""
        return cls(int(row.run), int(row.version), int(row.proc_ver), int(row.halfpipe_revision), row.completion,
                   int(row.lost_events), row.reason, row.campaign_id, json.loads(row.plan))  # fmt: skip


def _latest_rows(session: Session, runs: Sequence[int] | None = None) -> dict[int, RunVersion]:
    """The highest planned version of each run (of ``runs``, default all)."""
    top = select(RunVersion.run, func.max(RunVersion.version).label("v")).group_by(RunVersion.run)
    if runs is not None:
        top = top.where(RunVersion.run.in_([int(r) for r in runs]))
    sub = top.subquery()
    rows = session.scalars(
        select(RunVersion).join(sub, (RunVersion.run == sub.c.run) & (RunVersion.version == sub.c.v))
    )
    return {int(r.run): r for r in rows}


def next_version(session: Session, run: int) -> int:
    """The version the next products of ``run`` get: one above every planned or catalogued version."""
    planned = session.scalar(select(func.max(RunVersion.version)).where(RunVersion.run == int(run))) or 0
    return max(int(planned), int(latest_version(session, run) or 0)) + 1


def add_version(
    session: Session,
    run: Any,
    version: int,
    reason: str,
    *,
    proc_ver: int = DEFAULT_PROC_VER,
    campaign_id: int | None = None,
    state: HalfpipeState | None = None,
    bad_times: Sequence[dict[str, Any]] | None = None,
) -> RunVersion:
    """Record version ``version`` of the retired run ``run`` (a RetiredRun), made from its current files
    with ``bad_times`` (default: the active bad time intervals overlapping the run now)."""
    hp = state or halfpipe_state(run)
    if bad_times is None:
        bad_times = quality_bad_times(session, float(run.start), float(run.stop))
    row = RunVersion(run=int(run.run_id), version=int(version), proc_ver=int(proc_ver), halfpipe_revision=hp.revision,
                     completion=hp.completion, lost_events=hp.lost_events, reason=reason,
                     plan=json.dumps(plan_of(run, bad_times), sort_keys=True), campaign_id=campaign_id)  # fmt: skip
    session.add(row)
    session.flush()
    return row


def plan_versions(session: Session, retired: Sequence[Any]) -> list[RunVersion]:
    """Record the versions the retired runs need now; return the rows added.

    * a run without any version gets version 1 -- or, when products of it were catalogued before
      versions were recorded, that catalogued version is recorded (as made from revision 1);
    * a run whose halfpipe revision is newer than the one its latest version was made from gets
      the next version (late data changed its merged files);
    * a run whose active bad time intervals differ from those its latest version was made with
      gets the next version (an interval flagged or removed: "quality flags: ..."), made from the
      same halfpipe revision.
    """
    latest = _latest_rows(session, [int(r.run_id) for r in retired]) if retired else {}
    active = list_intervals(session) if retired else []
    added = []
    for r in retired:
        hp = halfpipe_state(r)
        now = bad_times_in(active, float(r.start), float(r.stop))
        row = latest.get(int(r.run_id))
        if row is None:
            legacy = latest_version(session, int(r.run_id))
            if legacy is None:
                added.append(add_version(session, r, 1, "first products", state=hp, bad_times=now))
                continue
            old = HalfpipeState(1, hp.completion, hp.lost_events, hp.reason)
            row = add_version(session, r, legacy, "catalogued before run versions were recorded", state=old,
                              bad_times=[])  # fmt: skip
        if hp.revision > row.halfpipe_revision:
            why = (f"late data: halfpipe revision {hp.revision} (version {row.version} was made from "
                   f"revision {row.halfpipe_revision})")  # fmt: skip
            added.append(add_version(session, r, next_version(session, int(r.run_id)), why,
                                     proc_ver=int(row.proc_ver), state=hp, bad_times=now))  # fmt: skip
            continue
        if why := quality_change(json.loads(row.plan).get("bad_times") or [], now):
            added.append(add_version(session, r, next_version(session, int(r.run_id)), why,
                                     proc_ver=int(row.proc_ver), state=hp, bad_times=now))  # fmt: skip
    return added


def planned_versions(session: Session, runs: Sequence[int] | None = None) -> list[PlannedVersion]:
    """Every planned version (of ``runs``, default all), by run then version."""
    stmt = select(RunVersion).order_by(RunVersion.run, RunVersion.version)
    if runs is not None:
        stmt = stmt.where(RunVersion.run.in_([int(r) for r in runs]))
    return [PlannedVersion.of(r) for r in session.scalars(stmt)]
