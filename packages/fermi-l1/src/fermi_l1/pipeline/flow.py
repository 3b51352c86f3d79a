"""The whole chain of ``fermi-l1 pipeline``: inbox -> ingest -> merge -> recon crumbs -> run input -> L1.

Stages, each a task of the task engine (:mod:`fermi_core.engine`), submitted to one executor:

1. ``ingest`` (:mod:`fermi_ingest.task`) then ``merge`` (:mod:`fermi_halfpipe.task`) of every
   delivery in the inbox (one delivery at a time, in name order, since the halfpipe stitches
   runs across deliveries in delivery order); the merge is handed the delivery id the ingest
   returned;
2. the halfpipe's completion policy (:func:`fermi_halfpipe.policy.settle_runs`: deadlines);
   then the versions the retired runs need are planned (:func:`fermi_l1.versions.plan_versions`:
   version 1 of a new run, the next version of a run whose halfpipe revision is newer; campaigns
   plan theirs in ``fermi-l1 reprocess``);
3. ``recon`` of every crumb of every planned version not made yet and without a run input yet
   (in parallel);
4. ``runinput`` of those versions whose crumbs are all done (merit chunks, spacecraft samples,
   provenance, and which version this is);
5. ``l1run`` of every run input of a version not made yet, and of input folders made by hand
   (FT2, FT1, catalog, outbox); the versions made are checked for rate excursions
   (:func:`fermi_l1.quality.auto.check_pass`: bad time intervals with source ``auto``, which the
   next pass re-issues); running campaigns are then marked done or failed
   (:func:`fermi_l1.campaigns.refresh`).

Task runs created for a campaign's versions get the campaign's processing date.

A pass starts by requeueing the task runs of pending re-run requests
(:func:`fermi_core.engine.claim_pending`), which join their stage once their inputs are ready,
and ends by marking finished requests done (:func:`fermi_core.engine.settle`).

A stage skips the work the engine records as finished, so the chain can be started again at
any time (after a kill too) and only does what is left.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from fermi_core.engine import (
    State,
    Summary,
    claim_pending,
    get_task,
    outputs_of,
    process,
    requeued_items,
    settle,
    states_of,
)
from fermi_core.engine.driver import Executor
from fermi_core.site import Site, run_version_folder
from fermi_halfpipe.published import retired_runs
from fermi_halfpipe.task import MergeParams
from fermi_ingest.task import IngestParams
from fermi_l1 import campaigns
from fermi_l1.catalog.models import RunVersion
from fermi_l1.db import session
from fermi_l1.pipeline.crumbs import MIN_CRUMB_EVENTS, crumb_bounds
from fermi_l1.pipeline.halfpipe_runs import SAMPLE_MARGIN_S
from fermi_l1.pipeline.inbox import inbox_entries
from fermi_l1.pipeline.tasks import L1RunParams, ReconParams, RunInputParams
from fermi_l1.quality.auto import check_pass
from fermi_l1.versions import PlannedVersion, plan_versions, planned_versions

#: progress(stage label, done, total)
Progress = Callable[[str, int, int], None]


@dataclass
class FlowSummary:
    """What each stage did (``{task: Summary}``) and the LAT runs held back by a failed crumb."""

    stages: dict[str, Summary] = field(default_factory=dict)
    blocked_runs: list[int] = field(default_factory=list)

    def add(self, task: str, s: Summary) -> None:
        """Accumulate the counts of one :func:`fermi_core.engine.process` call."""
        self.stages.setdefault(task, Summary()).add(s)

    @property
    def failed(self) -> int:
        """Task runs that ended failed, in every stage."""
        return sum(s.failed for s in self.stages.values())


def pending_versions(site: Site) -> tuple[list[PlannedVersion], int]:
    """Plan the versions the halfpipe's retired runs need now; return every version not made yet, and
    how many are made.

    A version is made when its ``l1run`` task run is done; only the plans of the others are read.
    """
    with session(site.db_url) as s:
        plan_versions(s, retired_runs(s, site, margin_s=SAMPLE_MARGIN_S))
        pairs = s.execute(select(RunVersion.run, RunVersion.version)).all()
    keys = {run_version_folder(r, v): (int(r), int(v)) for r, v in pairs}
    states = states_of(site.db_url, "l1run", list(keys))
    todo = {rv for k, rv in keys.items() if states.get(k) != State.DONE}
    if not todo:
        return [], len(keys)
    with session(site.db_url) as s:
        pending = [v for v in planned_versions(s, sorted({r for r, _ in todo})) if (v.run, v.version) in todo]
    return pending, len(keys) - len(todo)


def _planned_keys(db_url: str) -> set[str]:
    """Task keys of every planned version (the input folders of no planned version were made by hand)."""
    with session(db_url) as s:
        return {run_version_folder(r, v) for r, v in s.execute(select(RunVersion.run, RunVersion.version))}


def _campaign_dates(db_url: str) -> dict[int | None, str]:
    """Processing date of each running campaign."""
    with session(db_url) as s:
        return {c.id: c.processing_date for c in campaigns.unfinished(s)}


def _settle_halfpipe(site: Site) -> None:
    """Apply the halfpipe's completion policy (deadlines) to its open runs, when it has one."""
    try:
        from fermi_halfpipe.policy import settle_runs
    except ImportError:  # a halfpipe without the completion policy: open runs wait for force-complete
        return
    settle_runs(site)


def run_pipeline(
    site: Site,
    executor: Executor,
    *,
    inbox: bool = True,
    max_attempts: int = 3,
    date: str | None = None,
    min_crumb: int = MIN_CRUMB_EVENTS,
    progress: Progress | None = None,
) -> FlowSummary:
    """Run every stage for ``site`` with ``executor``; see the module documentation."""
    db_url = site.db_url
    out = FlowSummary()
    claim_pending(db_url, site)

    def with_reruns(task: str, items: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        return items + requeued_items(db_url, task, exclude={k for k, _ in items}, site=site)

    def stage(task: str, items: Sequence[tuple[str, Any]], dates: Mapping[str, str] | None = None) -> Summary:
        """Process ``items``; task runs created now get the date of their campaign, else ``date``."""
        label = get_task(task).title
        groups: dict[str | None, list[tuple[str, Any]]] = {}
        for key, params in items:
            groups.setdefault((dates or {}).get(key, date), []).append((key, params))
        total = Summary()
        for when, group in groups.items():
            s = process(
                site, task, group, executor, max_attempts=max_attempts, date=when,
                progress=(lambda done, n: progress(label, done, n)) if progress else None,
            )  # fmt: skip
            out.add(task, s)
            total.add(s)
        return total

    if inbox:
        for entry in inbox_entries(site):
            ingest = [(entry.name, IngestParams(path=site.relative(entry)))]
            if stage("ingest", ingest).failed == 0:
                ingested = outputs_of(db_url, "ingest", entry.name) or [""]
                merge = MergeParams(path=site.relative(entry), delivery_id=ingested[0])
                stage("merge", [(entry.name, merge)])
    for task in ("ingest", "merge"):
        if extra := with_reruns(task, []):
            stage(task, extra)

    _settle_halfpipe(site)
    pending, made = pending_versions(site)
    if made:
        out.add("l1run", Summary(skipped=made))  # versions made by earlier passes: already finished
    campaign_dates = _campaign_dates(db_url)
    dates = {v.key: campaign_dates[v.campaign_id] for v in pending if v.campaign_id in campaign_dates}
    crumbs: dict[str, list[list[tuple[str, ReconParams]]]] = {}
    todo = [v for v in pending if not (site.l1_input_dir(v.run, v.version) / "run.json").is_file()]
    for v in todo:
        per_chunk = []
        for c, f in enumerate(v.plan["files"]):
            items = []
            for k, (lo, hi) in enumerate(crumb_bounds(int(f["n_events"]), min_crumb=min_crumb)):
                key = f"{v.key}.c{c:04d}.k{k:03d}"
                crumb = site.l1_work_dir(v.run, v.version) / f"c{c:04d}-k{k:03d}.parquet"
                params = ReconParams(merged=f["relpath"], sha256=f["sha256"], lo=lo, hi=hi, run=v.run,
                                     spacecraft=v.plan["spacecraft"], out=site.relative(crumb))  # fmt: skip
                items.append((key, params))
                if v.key in dates:
                    dates[key] = dates[v.key]
            per_chunk.append(items)
        crumbs[v.key] = per_chunk
    all_crumbs = [item for per_chunk in crumbs.values() for items in per_chunk for item in items]
    if recon_items := with_reruns("recon", all_crumbs):
        stage("recon", recon_items, dates)
    states = states_of(db_url, "recon", [k for k, _ in all_crumbs])
    runinputs: list[tuple[str, Any]] = []
    for v in todo:
        keys = [k for items in crumbs[v.key] for k, _ in items]
        if not keys or any(states.get(k) != State.DONE for k in keys):
            out.blocked_runs.append(v.run)
            continue
        params = RunInputParams(
            run=v.run, start=float(v.plan["start"]), stop=float(v.plan["stop"]),
            chunks=[[p.out for _, p in items] for items in crumbs[v.key]],
            spacecraft=v.plan["spacecraft"], merged=v.plan["files"],
            input_dir=site.relative(site.l1_input_dir(v.run, v.version)), pass_info=v.pass_info(),
        )  # fmt: skip
        runinputs.append((v.key, params))
    if runinputs := with_reruns("runinput", runinputs):
        stage("runinput", runinputs, dates)

    planned = _planned_keys(db_url)
    folders = [site.l1_input_dir(v.run, v.version) for v in pending]
    folders += [p.parent for p in site.l1_inputs.glob("r*/run.json") if p.parent.name not in planned]
    l1runs: list[tuple[str, Any]] = [
        (
            p.name,
            L1RunParams(
                input_dir=site.relative(p),
                products_dir=site.relative(site.products),
                outbox=site.relative(site.outbox),
            ),
        )
        for p in sorted(folders)
        if (p / "run.json").is_file()
    ]
    if l1runs := with_reruns("l1run", l1runs):
        stage("l1run", l1runs, dates)
    check_pass(site, pending)  # automatic bad-time check of the versions just made (re-issued next pass)
    campaigns.refresh(db_url)
    settle(db_url, site)
    return out
