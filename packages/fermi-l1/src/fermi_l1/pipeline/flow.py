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
3. for every planned version not made yet and without a run input yet, a chain: ``recon`` of its
   crumbs, then ``runinput`` as soon as they are all done (merit chunks, spacecraft samples,
   provenance, and which version this is), then ``l1run`` (FT2, FT1, catalog, outbox). The
   chains run side by side on the one executor, with no barrier between versions: a run's L1 step
   runs while the crumbs of other runs still do. Waiting task runs go to free workers run steps
   first, then crumbs, the longest version first (``slots``); a failed crumb holds back its own
   version only;
4. beside them, what no chain of this pass holds: crumbs and run inputs requeued by re-run
   requests, then ``l1run`` of versions whose run input an earlier pass made and of input folders
   made by hand, each task once the one before is final;
5. the versions made are checked for rate excursions
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
from pathlib import Path
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
from fermi_core.engine.driver import Executor, Job, run_jobs
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
#: priorities of the L1 tasks waiting for a slot: run inputs and run steps first, then crumbs
_STEP, _CRUMB = 0, 1


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


def _crumb_items(site: Site, v: PlannedVersion, min_crumb: int) -> list[list[tuple[str, ReconParams]]]:
    """The recon crumbs of a planned version, per merged file."""
    per_chunk = []
    for c, f in enumerate(v.plan["files"]):
        items = []
        for k, (lo, hi) in enumerate(crumb_bounds(int(f["n_events"]), min_crumb=min_crumb)):
            crumb = site.l1_work_dir(v.run, v.version) / f"c{c:04d}-k{k:03d}.parquet"
            params = ReconParams(merged=f["relpath"], sha256=f["sha256"], lo=lo, hi=hi, run=v.run,
                                 spacecraft=v.plan["spacecraft"], out=site.relative(crumb))  # fmt: skip
            items.append((f"{v.key}.c{c:04d}.k{k:03d}", params))
        per_chunk.append(items)
    return per_chunk


def _executor_slots(executor: Executor) -> int | None:
    """Attempts to keep in flight on ``executor``: a local pool's workers and one queued ahead (so a
    worker never waits for the driver's bookkeeping), None (every ready one) for other executors."""
    workers = getattr(executor, "max_workers", None)  # LocalExecutor's; Parsl's pool has no fixed size
    return None if workers is None else int(workers) + 1


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
    slots: int | None = None,
) -> FlowSummary:
    """Run every stage for ``site`` with ``executor``; see the module documentation.

    ``slots`` is how many attempts of the L1 tasks are kept in flight (default: the local pool's
    workers and one more; every ready one on other executors): the others wait in the driver, run
    steps before crumbs, so a run step never queues behind the crumbs of other runs.
    """
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
    todo = [v for v in pending if not (site.l1_input_dir(v.run, v.version) / "run.json").is_file()]
    crumbs = {v.key: _crumb_items(site, v, min_crumb) for v in todo}
    chained = {v.key for v in todo}
    blocked: set[int] = set()

    def l1run_item(folder: Path) -> tuple[str, L1RunParams]:
        params = L1RunParams(input_dir=site.relative(folder), products_dir=site.relative(site.products),
                             outbox=site.relative(site.outbox))  # fmt: skip
        return folder.name, params

    def job(task: str, items: list[tuple[str, Any]], priority: Any, then: Any = None) -> Job:
        return Job(task, items, date=date, dates=dates, priority=priority, then=then)

    def chain(v: PlannedVersion, rank: int) -> Job:
        """The version's crumbs, then its run input once they are done, then its L1 run."""
        folder = site.l1_input_dir(v.run, v.version)

        def after_runinput(states: dict[str, str]) -> list[Job]:
            if not (folder / "run.json").is_file():
                return []
            return [job("l1run", [l1run_item(folder)], (_STEP, rank))]

        def after_recon(states: dict[str, str]) -> list[Job]:
            if not states or any(state != State.DONE for state in states.values()):
                blocked.add(v.run)
                return []
            params = RunInputParams(
                run=v.run, start=float(v.plan["start"]), stop=float(v.plan["stop"]),
                chunks=[[p.out for _, p in items] for items in crumbs[v.key]],
                spacecraft=v.plan["spacecraft"], merged=v.plan["files"],
                input_dir=site.relative(folder), pass_info=v.pass_info(),
            )  # fmt: skip
            return [job("runinput", [(v.key, params)], (_STEP, rank), after_runinput)]

        items = [item for per_chunk in crumbs[v.key] for item in per_chunk]
        return Job("recon", items, date=dates.get(v.key, date), priority=(_CRUMB, rank), then=after_recon)

    # what no version of this pass chains: re-run requests of the tasks, versions whose run input
    # an earlier pass made, input folders made by hand -- each task once the one before is final
    crumb_keys = {key for per_chunk in crumbs.values() for items in per_chunk for key, _ in items}
    planned = _planned_keys(db_url)
    rest = len(todo)

    def rest_l1runs(states: dict[str, str]) -> list[Job]:
        folders = [site.l1_input_dir(v.run, v.version) for v in pending if v.key not in chained]
        folders += [p.parent for p in site.l1_inputs.glob("r*/run.json") if p.parent.name not in planned]
        items = [l1run_item(p) for p in sorted(folders) if (p / "run.json").is_file()]
        items += requeued_items(db_url, "l1run", exclude=chained | {k for k, _ in items}, site=site)
        return [job("l1run", items, (_STEP, rest))] if items else []

    def rest_runinputs(states: dict[str, str]) -> list[Job]:
        items = requeued_items(db_url, "runinput", exclude=chained, site=site)
        return [job("runinput", items, (_STEP, rest), rest_l1runs)]

    extra_crumbs = requeued_items(db_url, "recon", exclude=crumb_keys, site=site)
    # the longest chain first: its L1 run then overlaps the crumbs of the others
    ranked = sorted(todo, key=lambda v: -sum(int(f["n_events"]) for f in v.plan["files"]))
    jobs = [chain(v, rank) for rank, v in enumerate(ranked)]
    jobs.append(job("recon", extra_crumbs, (_CRUMB, rest), rest_runinputs))
    slots = _executor_slots(executor) if slots is None else slots
    report = (lambda task, done, n: progress(get_task(task).title, done, n)) if progress else None
    summaries = run_jobs(site, jobs, executor, max_attempts=max_attempts, slots=slots, progress=report)
    for task in ("recon", "runinput", "l1run"):
        if task in summaries:
            out.add(task, summaries[task])
    out.blocked_runs.extend(v.run for v in todo if v.run in blocked)
    check_pass(site, pending)  # automatic bad-time check of the versions just made (re-issued next pass)
    campaigns.refresh(db_url)
    settle(db_url, site)
    return out
