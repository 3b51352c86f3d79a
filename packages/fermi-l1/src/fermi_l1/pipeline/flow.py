"""The whole chain of ``fermi-l1 pipeline``: inbox -> ingest -> merge -> recon crumbs -> run input -> L1.

Stages, each a task of the task engine (:mod:`fermi_core.engine`), submitted to one executor:

1. ``ingest`` (:mod:`fermi_ingest.task`) then ``merge`` (:mod:`fermi_halfpipe.task`) of every
   delivery in the inbox (one delivery at a time, in name order, since the halfpipe stitches
   runs across deliveries in delivery order); the merge is handed the delivery id the ingest
   returned;
2. ``recon`` of every crumb of every retired halfpipe run without a run input yet (in parallel);
3. ``runinput`` of those runs whose crumbs are all done (merit chunks, spacecraft samples,
   provenance);
4. ``l1run`` of every run input (FT2, FT1, catalog, outbox).

A pass starts by requeueing the task runs of pending re-run requests
(:func:`fermi_core.engine.claim_pending`), which join their stage once their inputs are ready,
and ends by marking finished requests done (:func:`fermi_core.engine.settle`).

A stage skips the work the engine records as finished, so the chain can be started again at
any time (after a kill too) and only does what is left.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

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
from fermi_core.site import Site
from fermi_halfpipe.task import MergeParams
from fermi_ingest.task import IngestParams
from fermi_l1.pipeline.halfpipe_runs import MIN_CRUMB_EVENTS, crumb_bounds, ready_runs
from fermi_l1.pipeline.inbox import inbox_entries
from fermi_l1.pipeline.tasks import L1RunParams, ReconParams, RunInputParams

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


def _records(files: Sequence[Any]) -> list[dict[str, Any]]:
    """File records for task parameters: ``path`` is the home-relative path, as stored."""
    return [{**vars(f), "path": f.relpath} for f in files]


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

    def stage(task: str, items: Sequence[tuple[str, Any]]) -> Summary:
        label = get_task(task).title
        s = process(
            site, task, items, executor, max_attempts=max_attempts, date=date,
            progress=(lambda done, total: progress(label, done, total)) if progress else None,
        )  # fmt: skip
        out.add(task, s)
        return s

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

    plans = [
        p for p in ready_runs(db_url, site.home) if not (site.l1_input_dir(p.run) / "run.json").is_file()
    ]
    crumbs: dict[int, list[list[tuple[str, ReconParams]]]] = {}
    for plan in plans:
        sc = _records(plan.spacecraft)
        per_chunk = []
        for c, f in enumerate(plan.files):
            items = []
            for k, (lo, hi) in enumerate(crumb_bounds(f.n_events, min_crumb=min_crumb)):
                key = f"{plan.key}.c{c:04d}.k{k:03d}"
                crumb = site.l1_work_dir(plan.run) / f"c{c:04d}-k{k:03d}.parquet"
                params = ReconParams(merged=f.relpath, sha256=f.sha256, lo=lo, hi=hi, run=plan.run, spacecraft=sc,
                                     out=site.relative(crumb))  # fmt: skip
                items.append((key, params))
            per_chunk.append(items)
        crumbs[plan.run] = per_chunk
    all_crumbs = [item for per_chunk in crumbs.values() for items in per_chunk for item in items]
    if recon_items := with_reruns("recon", all_crumbs):
        stage("recon", recon_items)
    states = states_of(db_url, "recon", [k for k, _ in all_crumbs])
    runinputs: list[tuple[str, Any]] = []
    for plan in plans:
        keys = [k for items in crumbs[plan.run] for k, _ in items]
        if not keys or any(states.get(k) != State.DONE for k in keys):
            out.blocked_runs.append(plan.run)
            continue
        params = RunInputParams(
            run=plan.run, start=plan.start, stop=plan.stop,
            chunks=[[p.out for _, p in items] for items in crumbs[plan.run]],
            spacecraft=_records(plan.spacecraft), merged=_records(plan.files),
            input_dir=site.relative(site.l1_input_dir(plan.run)),
        )  # fmt: skip
        runinputs.append((plan.key, params))
    if runinputs := with_reruns("runinput", runinputs):
        stage("runinput", runinputs)

    folders = sorted(p.parent for p in site.l1_inputs.glob("r*/run.json"))
    l1runs: list[tuple[str, Any]] = [
        (
            p.name,
            L1RunParams(
                input_dir=site.relative(p),
                products_dir=site.relative(site.products),
                outbox=site.relative(site.outbox),
            ),
        )
        for p in folders
    ]
    if l1runs := with_reruns("l1run", l1runs):
        stage("l1run", l1runs)
    settle(db_url)
    return out
