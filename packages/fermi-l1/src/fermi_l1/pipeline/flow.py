"""The whole chain of ``fermi-l1 pipeline``: inbox -> ingest -> merge -> recon crumbs -> run input -> L1.

Stages, each a task of the run-state tables (:mod:`.models`), submitted to one executor:

1. ``ingest`` then ``merge`` of every delivery in ``$FERMI_HOME/inbox/`` (one delivery at a time,
   in name order, since the halfpipe stitches runs across deliveries in delivery order);
2. ``recon`` of every crumb of every retired halfpipe run without a run input yet (in parallel);
3. ``runinput`` of those runs whose crumbs are all done (merit chunks, spacecraft samples,
   provenance);
4. ``l1run`` of every run input (FT2, FT1, catalog, outbox).

A pass starts by requeueing the runs of pending re-run requests (:mod:`.rerun`), which join
their stage once their inputs are ready, and ends by marking finished requests done.

A stage skips the work its task tables record as finished, so the chain can be started again at
any time (after a kill too) and only does what is left.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from fermi_l1.db import session
from fermi_l1.pipeline.driver import Summary, process
from fermi_l1.pipeline.halfpipe_runs import MIN_CRUMB_EVENTS, crumb_bounds, ready_runs
from fermi_l1.pipeline.inbox import inbox_entries
from fermi_l1.pipeline.models import PipelineRun, PipelineTask
from fermi_l1.pipeline.rerun import claim_pending, requeued_items, settle

#: progress(stage label, done, total)
Progress = Callable[[str, int, int], None]


@dataclass
class FlowSummary:
    """What each stage did (``{task: Summary}``) and the runs held back by a failed crumb."""

    stages: dict[str, Summary] = field(default_factory=dict)
    blocked_runs: list[int] = field(default_factory=list)

    def add(self, task: str, s: Summary) -> None:
        """Accumulate the counts of one :func:`.driver.process` call."""
        acc = self.stages.setdefault(task, Summary())
        acc.done += s.done
        acc.failed += s.failed
        acc.crashed += s.crashed
        acc.skipped += s.skipped

    @property
    def failed(self) -> int:
        """Task runs that ended failed, in every stage."""
        return sum(s.failed for s in self.stages.values())


def task_states(db_url: str, task: str, keys: list[str]) -> dict[str, str]:
    """Return ``{key: state}`` of the runs of ``task`` (keys never submitted are absent)."""
    with session(db_url) as s:
        rows = s.execute(
            select(PipelineRun.key, PipelineRun.state)
            .join(PipelineTask, PipelineRun.task_pk == PipelineTask.id)
            .where(PipelineTask.name == task, PipelineRun.key.in_(keys))
        ).all()
    return dict(rows)


def run_pipeline(
    home: str | os.PathLike[str],
    db_url: str,
    executor,
    *,
    inbox: bool = True,
    max_attempts: int = 3,
    date: str | None = None,
    min_crumb: int = MIN_CRUMB_EVENTS,
    progress: Progress | None = None,
) -> FlowSummary:
    """Run every stage for ``home`` (``FERMI_HOME``) with ``executor``; see the module documentation."""
    home = Path(home).resolve()
    logs = home / "l1" / "logs"
    out = FlowSummary()
    claim_pending(db_url)

    def with_reruns(task: str, items: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
        return items + requeued_items(db_url, task, exclude={k for k, _ in items})

    def stage(task: str, items: list[tuple[str, dict]]) -> Summary:
        label = {"ingest": "ingest", "merge": "merge", "recon": "recon crumbs", "runinput": "run inputs",
                 "l1run": "L1 runs"}[task]  # fmt: skip
        s = process(
            db_url, items, executor, log_dir=logs, max_attempts=max_attempts, date=date, task=task,
            progress=(lambda done, total: progress(label, done, total)) if progress else None,
        )  # fmt: skip
        out.add(task, s)
        return s

    if inbox:
        for entry in inbox_entries(home):
            item = [(entry.name, {"path": str(entry), "home": str(home)})]
            if stage("ingest", item).failed == 0:
                stage("merge", item)
    for task in ("ingest", "merge"):
        if extra := with_reruns(task, []):
            stage(task, extra)

    inputs_root = home / "l1" / "inputs"
    plans = [p for p in ready_runs(db_url, home) if not (inputs_root / p.key / "run.json").is_file()]
    crumbs: dict[int, list[list[tuple[str, dict]]]] = {}
    for plan in plans:
        sc = [vars(f) for f in plan.spacecraft]
        per_chunk = []
        for c, f in enumerate(plan.files):
            items = []
            for k, (lo, hi) in enumerate(crumb_bounds(f.n_events, min_crumb=min_crumb)):
                key = f"{plan.key}.c{c:04d}.k{k:03d}"
                crumb = home / "l1" / "work" / plan.key / f"c{c:04d}-k{k:03d}.parquet"
                params = {"merged": f.path, "sha256": f.sha256, "lo": lo, "hi": hi, "run": plan.run,
                          "spacecraft": sc, "out": str(crumb)}  # fmt: skip
                items.append((key, params))
            per_chunk.append(items)
        crumbs[plan.run] = per_chunk
    all_crumbs = [item for per_chunk in crumbs.values() for items in per_chunk for item in items]
    if recon_items := with_reruns("recon", all_crumbs):
        stage("recon", recon_items)
    states = task_states(db_url, "recon", [k for k, _ in all_crumbs])
    runinputs = []
    for plan in plans:
        keys = [k for items in crumbs[plan.run] for k, _ in items]
        if not keys or any(states.get(k) != "done" for k in keys):
            out.blocked_runs.append(plan.run)
            continue
        params = {
            "run": plan.run, "start": plan.start, "stop": plan.stop,
            "chunks": [[p["out"] for _, p in items] for items in crumbs[plan.run]],
            "spacecraft": [vars(f) for f in plan.spacecraft], "merged": [vars(f) for f in plan.files],
            "input_dir": str(inputs_root / plan.key),
        }  # fmt: skip
        runinputs.append((plan.key, params))
    if runinputs := with_reruns("runinput", runinputs):
        stage("runinput", runinputs)

    runs = sorted(p.parent for p in inputs_root.glob("r*/run.json"))
    items = [
        (
            p.name,
            {
                "input_dir": str(p),
                "products_dir": str(home / "l1" / "products"),
                "outbox": str(home / "outbox"),
            },
        )
        for p in runs
    ]
    if items := with_reruns("l1run", items):
        stage("l1run", items)
    settle(db_url)
    return out
