"""Reprocessing campaigns: who asked, why, with which software, for which runs, and how far it got.

A campaign (``fermi-l1 reprocess``) plans the next version of each chosen run's products
(:mod:`fermi_l1.versions`) in one transaction with its own row, so it is either recorded whole
or not at all; the versions are then made by the ordinary L1 pass (the same engine, executors
and task runs as ``fermi-l1 pipeline``), which resumes them after a kill like any other work.
A campaign is ``running`` until each of its versions is made (``done``) or some failed for
good (``failed``, with the task runs in ``outcome``). See ``docs/lifecycle/reprocessing.md``.

Public (read by the release validation): :func:`list_campaigns`, :func:`versions_of`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fermi_core.engine import State, states_of
from fermi_core.errors import BadInput
from fermi_core.site import run_version_folder
from fermi_l1.catalog.api import PACKAGES, catalogued_runs, package_versions
from fermi_l1.catalog.models import Campaign, RunVersion
from fermi_l1.db import session
from fermi_l1.versions import DEFAULT_PROC_VER, add_version, next_version

__all__ = [
    "CampaignError", "CampaignInfo", "create_campaign", "get_campaign", "list_campaigns", "refresh",
    "unfinished", "versions_of",
]  # fmt: skip

RUNNING, DONE, FAILED = "running", "done", "failed"


class CampaignError(BadInput, ValueError):
    """A campaign that cannot be made or found (the message says why)."""


@dataclass(frozen=True)
class CampaignInfo:
    """One campaign as :func:`list_campaigns` reports it; ``runs`` maps LAT run -> version it makes."""

    id: int
    name: str
    requested_by: str
    reason: str
    selection: dict[str, Any]
    processing_version: int | None
    processing_date: str
    software: dict[str, str]
    state: str
    outcome: str
    created_at: datetime
    finished_at: datetime | None
    runs: dict[int, int]


def get_campaign(s: Session, campaign: str | int) -> Campaign:
    """The campaign with id or name ``campaign``.

    Raises
    ------
    CampaignError
        No such campaign.
    """
    text = str(campaign).strip()
    row = s.get(Campaign, int(text)) if text.isdigit() else None
    if row is None:
        row = s.scalars(select(Campaign).where(Campaign.name == text)).one_or_none()
    if row is None:
        raise CampaignError(f"no campaign {text!r} (see 'fermi-l1 campaigns')")
    return row


def versions_of(session: Session, campaign: str | int) -> dict[int, int]:
    """``{LAT run: file version}`` that campaign ``campaign`` (id or name) makes, by run."""
    row = get_campaign(session, campaign)
    pairs = session.execute(
        select(RunVersion.run, RunVersion.version)
        .where(RunVersion.campaign_id == row.id)
        .order_by(RunVersion.run)
    )
    return {int(r): int(v) for r, v in pairs}


def _info(s: Session, row: Campaign) -> CampaignInfo:
    return CampaignInfo(row.id, row.name, row.requested_by, row.reason, json.loads(row.selection),
                        row.processing_version, row.processing_date, json.loads(row.software), row.state,
                        row.outcome or "", row.created_at, row.finished_at, versions_of(s, row.id))  # fmt: skip


def list_campaigns(session: Session) -> list[CampaignInfo]:
    """Every campaign, oldest first."""
    return [_info(session, r) for r in session.scalars(select(Campaign).order_by(Campaign.id))]


def unfinished(session: Session) -> list[Campaign]:
    """Campaigns still ``running`` (interrupted, or being made), oldest first."""
    return list(session.scalars(select(Campaign).where(Campaign.state == RUNNING).order_by(Campaign.id)))


def create_campaign(
    s: Session,
    retired: Sequence[Any],
    *,
    who: str,
    why: str,
    runs: Sequence[int] | None = None,
    met_min: float | None = None,
    met_max: float | None = None,
    processing_version: int | None = None,
    processing_date: str,
    name: str | None = None,
) -> tuple[Campaign, list[str]]:
    """Record a campaign and the next version of each chosen run; return it and the runs skipped, with why.

    Parameters
    ----------
    s
        A session (committed by the caller: the campaign and its versions are one transaction).
    retired
        The halfpipe's retired runs (:func:`fermi_halfpipe.published.retired_runs`): each new
        version is made from the run's current merged files.
    who, why
        Recorded with the campaign (both required).
    runs, met_min, met_max
        Which catalogued runs: these ids, or those overlapping the MET range; none of them: all.
    processing_version
        New processing version (``pNNN``) of the event files; None keeps each run's current one.
    processing_date
        ``DATE`` of the campaign's products.
    name
        Campaign name (default ``reprocess-<id>``).

    Raises
    ------
    CampaignError
        No operator or reason, a campaign still running, no run chosen, a name already used.
    """
    who, why = who.strip(), why.strip()
    if not who:
        raise CampaignError("operator name (--who) is required")
    if len(why) < 3:
        raise CampaignError("a reason (--why, at least 3 characters) is required")
    if (open_ := unfinished(s)) != []:
        raise CampaignError(
            f"campaign {open_[0].id} ({open_[0].name}) is still running: resume it with "
            f"'fermi-l1 reprocess --resume {open_[0].id}' first"
        )
    if name and s.scalars(select(Campaign).where(Campaign.name == name)).one_or_none() is not None:
        raise CampaignError(f"a campaign named {name!r} exists already")
    if processing_version is not None and not 0 < int(processing_version) < 1000:
        raise CampaignError(f"processing version {processing_version}: expected 1..999 (pNNN)")
    catalogued = set(catalogued_runs(s, met_min=met_min, met_max=met_max))
    if runs:
        selection: dict[str, Any] = {"runs": sorted({int(r) for r in runs})}
        chosen = selection["runs"]
    elif met_min is not None or met_max is not None:
        selection, chosen = {"met_min": met_min, "met_max": met_max}, sorted(catalogued)
    else:
        selection, chosen = {"all": True}, sorted(catalogued)
    by_id = {int(r.run_id): r for r in retired}
    skipped = [f"run {r}: no catalogued products to reprocess" for r in chosen if r not in catalogued]
    skipped += [f"run {r}: not a retired halfpipe run (no merged files)" for r in chosen
                if r in catalogued and r not in by_id]  # fmt: skip
    todo = [r for r in chosen if r in catalogued and r in by_id]
    if not todo:
        raise CampaignError("no run to reprocess" + (f" ({'; '.join(skipped)})" if skipped else ""))
    row = Campaign(name=name or "", requested_by=who, reason=why, selection=json.dumps(selection, sort_keys=True),
                   processing_version=processing_version, processing_date=processing_date,
                   software=json.dumps(package_versions(PACKAGES), sort_keys=True), state=RUNNING,
                   outcome="")  # fmt: skip
    s.add(row)
    s.flush()
    if not name:
        row.name = f"reprocess-{row.id}"
    for run in todo:
        latest = s.scalars(
            select(RunVersion).where(RunVersion.run == run).order_by(RunVersion.version.desc()).limit(1)
        ).first()
        proc = processing_version or (latest.proc_ver if latest is not None else DEFAULT_PROC_VER)
        version = next_version(s, run)
        add_version(
            s, by_id[run], version, f"campaign {row.name}: {why}", proc_ver=int(proc), campaign_id=row.id
        )
    s.flush()
    return row, skipped


def refresh(db_url: str | None) -> list[CampaignInfo]:
    """Mark running campaigns ``done`` or ``failed`` from the state of their ``l1run`` task runs; return them."""
    with session(db_url) as s:
        ids = [(c.id, versions_of(s, c.id)) for c in unfinished(s)]
    changed = []
    for cid, runs in ids:
        keys = [run_version_folder(r, v) for r, v in runs.items()]
        states = states_of(db_url, "l1run", keys)
        if any(states.get(k) not in (State.DONE.value, State.FAILED.value) for k in keys):
            continue
        failed = [k for k in keys if states.get(k) == State.FAILED.value]
        with session(db_url) as s:
            row = s.get(Campaign, cid)
            row.state = FAILED if failed else DONE
            row.outcome = f"{len(failed)} of {len(keys)} failed: {', '.join(failed)}" if failed else "done"
            row.finished_at = datetime.now(timezone.utc)
            s.flush()
            changed.append(_info(s, row))
    return changed
