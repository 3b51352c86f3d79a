"""The status page's view grouped by LAT run: halfpipe state, L1 steps (crumbs folded), products.

A LAT run is known from any of: the chunks ingest cut from a delivery, the halfpipe's run states
(:func:`fermi_halfpipe.published.run_states`) and the task runs of the task engine whose key is
the run's folder name (``r0796000000``) or starts with it (a recon crumb
``r0796000000.c0000.k000``). For each run the page shows

* the halfpipe state with its event counts;
* every L1 step (a task of the engine: ``recon``, ``runinput``, ``l1run``), its task runs folded
  into counts by state, attempts, durations and queue wait;
* the products and every catalogued version of each (:func:`fermi_l1.catalog.api.query`);
* the latency from the first receipt of a delivery carrying its data to its first FT1 export.

Counts and filters are computed over every LAT run with one SQL aggregate (one row per run: its
task runs in each state that needs a look, whether it has a chain's step and its last step), never
over a fetched page; task runs and attempts are read only for the runs of the page shown, by key
ranges the ``(task_pk, key)`` index answers (no scan of every task run). The page of one run reads
only that run. Every query runs on the session's own connection (no second pooled connection per
request).
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from fermi_core.engine.models import Task, TaskAttempt, TaskRun
from fermi_core.engine.registry import chains
from fermi_core.engine.states import FAILED_TRIES
from fermi_core.site import run_folder
from fermi_halfpipe.published import RunState, run_states
from fermi_ingest.models import Chunk, Delivery
from fermi_isoc.queries.ingest import _utc
from fermi_isoc.queries.tables import has_tables

#: the L1 state of a LAT run is the first of these its task runs are in (work that needs a look first)
URGENCY = ("failed", "crashed", "running", "late", "held", "queued", "cancelled")
#: L1 states of a LAT run: those of :data:`URGENCY`, ``waiting`` (every step so far done, the
#: last one not yet made), ``done`` (the last step of the chain done) and ``not started``
L1_STATES = (*URGENCY, "waiting", "done", "not started")
#: the task-run key of a LAT run, and its length (``r`` and ten digits)
_KEY = re.compile(r"^r(\d{10})$")
_KEY_LEN = len(run_folder(0))
_SEARCH_RUN = re.compile(r"^r?(\d{1,10})$")


class SearchError(ValueError):
    """A search text that names nothing searchable."""


@dataclass(frozen=True)
class ProductVersion:
    """One catalogued version of one product of a LAT run."""

    data_type: str
    logical_path: str
    version: int
    latest: bool
    registered_at: datetime | None
    file_path: str
    checksum: str


@dataclass(frozen=True)
class StepSummary:
    """One L1 step of a LAT run: its task runs (crumbs) folded.

    Attributes
    ----------
    states
        Task runs of the step by state.
    started_at, ended_at
        First start and last end of the step's attempts (UTC).
    busy_s
        Sum of the wall times of its finished attempts, seconds.
    queue_wait_s, max_queue_wait_s
        Total and longest wait of its attempts between submission and start, seconds.
    """

    step: str
    n_task_runs: int
    states: dict[str, int]
    n_attempts: int = 0
    n_failed_attempts: int = 0
    started_at: datetime | None = None
    ended_at: datetime | None = None
    busy_s: float = 0.0
    queue_wait_s: float = 0.0
    max_queue_wait_s: float = 0.0

    @property
    def span_s(self) -> float | None:
        """Wall time from the first start to the last end of the step (None while nothing ended)."""
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class LatRunSummary:
    """One LAT run as the grouped index shows it."""

    run_id: int
    key: str
    l1_state: str
    halfpipe: RunState | None
    steps: list[StepSummary]
    deliveries: list[tuple[str, datetime | None]] = field(default_factory=list)
    products: list[ProductVersion] = field(default_factory=list)

    @property
    def first_received(self) -> datetime | None:
        """When the first delivery carrying data of the run was received (UTC)."""
        times = [t for _, t in self.deliveries if t is not None]
        return min(times) if times else None

    @property
    def ft1_exported(self) -> datetime | None:
        """When the run's first FT1 was exported (catalogued), UTC."""
        times = [p.registered_at for p in self.products if p.data_type == "FT1" and p.registered_at]
        return min(times) if times else None

    @property
    def latency_s(self) -> float | None:
        """Seconds from the first delivery receipt to the first FT1 export (None until both exist)."""
        a, b = self.first_received, self.ft1_exported
        return None if a is None or b is None else (b - a).total_seconds()


@dataclass(frozen=True)
class LatRunPage:
    """One page of the grouped index, with the counts over every LAT run."""

    runs: list[LatRunSummary]
    total: int
    page: int
    per_page: int
    l1_counts: dict[str, int]

    @property
    def n_pages(self) -> int:
        """Number of pages (at least 1)."""
        return max(1, math.ceil(self.total / self.per_page))


@dataclass(frozen=True)
class AttemptBar:
    """One attempt of one task run of a LAT run, for the timeline."""

    task_run: str
    step: str
    attempt: int
    state: str
    submitted_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None


@dataclass(frozen=True)
class LatRunDetail:
    """A LAT run with every attempt of its task runs (the per-run page and its timeline)."""

    summary: LatRunSummary
    bars: list[AttemptBar]
    task_runs: list[tuple[str, str, str]]  # (step, task-run key, state), in step then key order


def lat_key(run_id: int) -> str:
    """The task-run key of a LAT run (its folder name)."""
    return run_folder(run_id)


def _run_of_key(key: str) -> int | None:
    """The LAT run of a task-run key (``r0796000000`` or a crumb ``r0796000000.c0000.k000``), else None."""
    m = _KEY.match(key.partition(".")[0])
    return int(m.group(1)) if m else None


def _step_order() -> dict[str, int]:
    order: dict[str, int] = {}
    for _name, chain in sorted(chains().items()):
        for task in chain.tasks:
            order.setdefault(task, len(order))
    return order


def _chain_steps() -> tuple[set[str], set[str]]:
    """Every task of a re-run chain, and the last task of each chain."""
    tasks = {t for chain in chains().values() for t in chain.tasks}
    return tasks, {chain.tasks[-1] for chain in chains().values() if chain.tasks}


def _pipeline(session: Session, attempts: bool = False) -> bool:
    names = [Task.__tablename__, TaskRun.__tablename__] + ([TaskAttempt.__tablename__] if attempts else [])
    return has_tables(session, *names)


@dataclass(frozen=True)
class _Flags:
    """What the L1 state of a LAT run depends on: its task runs in each urgent state, its steps."""

    urgent: dict[str, int]
    has_chain_step: bool
    has_last_step: bool


def _l1_state(flags: _Flags | None) -> str:
    """The L1 state of a LAT run (:data:`L1_STATES`) from its :class:`_Flags` (None: no task run)."""
    if flags is None:
        return "not started"
    for state in URGENCY:
        if flags.urgent.get(state):
            return state
    # every task run done: the run is done unless its chain's last step is still to be made
    return "waiting" if flags.has_chain_step and not flags.has_last_step else "done"


def _flags_of(steps: dict[str, Counter]) -> _Flags | None:
    """:class:`_Flags` of a LAT run from its task runs by step and state (None when it has none)."""
    if not steps:
        return None
    total: Counter = Counter()
    for counts in steps.values():
        total.update(counts)
    tasks, last = _chain_steps()
    return _Flags(
        {s: total[s] for s in URGENCY if total[s]}, bool(set(steps) & tasks), bool(set(steps) & last)
    )


def _engine_flags(session: Session) -> dict[int, _Flags]:
    """``{LAT run: flags}`` of every LAT run with task runs, from two small aggregates.

    The steps each run has (distinct run prefix and task: a few rows per run) and the task runs
    not ``done`` by run and state (the few that need a look); no per-row state over every task
    run is computed (that conditional aggregate costs twice as much at a month of history).
    """
    if not _pipeline(session):
        return {}
    tasks, last = _chain_steps()
    names = dict(session.execute(select(Task.id, Task.name)).all())
    prefix = func.substr(TaskRun.key, 1, _KEY_LEN)
    steps: dict[int, set[str]] = defaultdict(set)
    for pre, task_pk in session.execute(
        select(prefix, TaskRun.task_pk).where(TaskRun.key.like("r%")).distinct()
    ):
        m = _KEY.match(pre)
        if m:
            steps[int(m.group(1))].add(names.get(task_pk, ""))
    urgent: dict[int, dict[str, int]] = defaultdict(dict)
    rows = session.execute(
        select(prefix, TaskRun.state, func.count())
        .where(TaskRun.key.like("r%"), TaskRun.state != "done")
        .group_by(prefix, TaskRun.state)
    )
    for pre, state, n in rows:
        m = _KEY.match(pre)
        if m and state in URGENCY:
            urgent[int(m.group(1))][state] = int(n)
    return {
        run: _Flags(urgent.get(run, {}), bool(names_ & tasks), bool(names_ & last))
        for run, names_ in steps.items()
    }


def _chunk_runs(session: Session) -> set[int]:
    if not has_tables(session, Chunk.__tablename__, Delivery.__tablename__):
        return set()
    return {int(r) for r in session.scalars(select(Chunk.run_id).where(Chunk.run_id.is_not(None)).distinct())}


@dataclass
class _World:
    """Every LAT run with its L1 and halfpipe state (what counts and filters need)."""

    halfpipe: dict[int, RunState]
    run_ids: list[int]  # newest first
    l1: dict[int, str]


def _world(session: Session) -> _World:
    flags = _engine_flags(session)
    halfpipe = {int(s.run_id): s for s in run_states(session)}
    ids = sorted(set(flags) | set(halfpipe) | _chunk_runs(session), reverse=True)
    return _World(halfpipe, ids, {r: _l1_state(flags.get(r)) for r in ids})


def runs_of_delivery_id(session: Session, delivery_id: str) -> set[int]:
    """LAT runs whose data a delivery carried (its chunks)."""
    rows = session.scalars(
        select(Chunk.run_id)
        .join(Delivery, Delivery.id == Chunk.delivery_pk)
        .where(Delivery.delivery_id == delivery_id, Chunk.run_id.is_not(None))
        .distinct()
    )
    return {int(r) for r in rows}


def search(session: Session, text: str, known: list[int] | None = None) -> set[int]:
    """LAT runs a search text names: a run id (``796000000`` or ``r0796000000``) or a delivery id.

    Raises
    ------
    SearchError
        The text is empty or longer than any id.
    """
    text = text.strip()
    if not text or len(text) > 64:
        raise SearchError(
            f"search {text!r}: give a LAT run id (e.g. 796000000 or r0796000000) or a delivery id"
        )
    found = runs_of_delivery_id(session, text)
    m = _SEARCH_RUN.match(text)
    if m:
        run_id = int(m.group(1))
        if known is None or run_id in known:
            found.add(run_id)
    return found


def _deliveries_of(session: Session, run_ids: list[int]) -> dict[int, list[tuple[str, datetime | None]]]:
    out: dict[int, list[tuple[str, datetime | None]]] = {r: [] for r in run_ids}
    if not run_ids:
        return out
    rows = session.execute(
        select(Chunk.run_id, Delivery.delivery_id, Delivery.ingested_at)
        .join(Delivery, Delivery.id == Chunk.delivery_pk)
        .where(Chunk.run_id.in_(run_ids))
        .distinct()
        .order_by(Delivery.ingested_at, Delivery.delivery_id)
    ).all()
    for run_id, delivery_id, at in rows:
        out[int(run_id)].append((delivery_id, _utc(at)))
    return out


def _products_of(session: Session, run_ids: list[int]) -> dict[int, list[ProductVersion]]:
    """Every catalogued version of every product of the runs, by type, path and version.

    Two catalog queries for all the runs (a run's products start at its id, the MET of its start):
    every version over the runs' span, and the latest ones.
    """
    from fermi_l1.catalog.api import query
    from fermi_l1.catalog.models import Dataset

    out: dict[int, list[ProductVersion]] = {r: [] for r in run_ids}
    if not run_ids or not has_tables(session, Dataset.__tablename__):
        return out
    span = {"met_min": min(run_ids), "met_max": max(run_ids)}
    latest = {d.id for d in query(session, **span, latest_only=True)}
    for d in query(session, **span):
        if d.run in out:
            out[d.run].append(
                ProductVersion(d.data_type, d.logical_path, d.version, d.id in latest, _utc(d.registered_at),
                               d.file_path, d.checksum)
            )  # fmt: skip
    for products in out.values():
        products.sort(key=lambda p: (p.data_type, p.logical_path, p.version))
    return out


def _key_ranges(run_ids: list[int], task_pks: list[int]) -> ColumnElement[bool]:
    """Task runs whose key starts with one of the LAT runs' folder names, as index ranges.

    ``r0796000000 <= key < r0796000001`` holds the run's own key and its crumbs
    (``r0796000000.c0000.k000``) whatever the collation (the bounds differ in a digit); a longer
    key in that range (``r07960000001``) is left out by :func:`_run_of_key`. The task condition
    is inside each term of the ``OR`` so that each is a range of the ``(task_pk, key)`` index on
    both backends (PostgreSQL: a bitmap OR; SQLite: its multi-index OR), never a scan of every
    task run.
    """
    return or_(
        *(
            and_(TaskRun.task_pk.in_(task_pks), TaskRun.key >= lat_key(r), TaskRun.key < lat_key(r + 1))
            for r in sorted(set(run_ids))
        )
    )


def _attempt_rows(session: Session, run_ids: list[int]) -> list[tuple]:
    """``(LAT run, step, task-run key, task-run state, attempt row or Nones)`` of the LAT runs."""
    if not run_ids or not _pipeline(session, attempts=True):
        return []
    task_pks = list(session.scalars(select(Task.id)))
    rows = session.execute(
        select(
            TaskRun.key,
            Task.name,
            TaskRun.state,
            TaskAttempt.number,
            TaskAttempt.state,
            TaskAttempt.submitted_at,
            TaskAttempt.started_at,
            TaskAttempt.ended_at,
            TaskAttempt.queue_wait,
        )
        .join(Task, Task.id == TaskRun.task_pk)
        .outerjoin(TaskAttempt, TaskAttempt.run_pk == TaskRun.id)
        .where(_key_ranges(run_ids, task_pks))
        .order_by(TaskRun.key, TaskAttempt.number)
    ).all()
    wanted = set(run_ids)
    out = []
    for key, task, run_state, number, state, submitted, started, ended, wait in rows:
        run_id = _run_of_key(key)
        if run_id in wanted:
            out.append((run_id, task, key, run_state, number, state, _utc(submitted), _utc(started),
                        _utc(ended), wait))  # fmt: skip
    return out


def _wait(submitted: datetime | None, started: datetime | None, wait: float | None) -> float:
    if wait is not None:
        return max(0.0, float(wait))
    if submitted is None or started is None:
        return 0.0
    return max(0.0, (started - submitted).total_seconds())


def _step_summaries(
    steps: dict[str, Counter], attempts: list[tuple], order: dict[str, int]
) -> list[StepSummary]:
    by_step: dict[str, list[tuple]] = defaultdict(list)
    for row in attempts:
        if row[4] is not None:
            by_step[row[1]].append(row)
    out = []
    for step in sorted(steps, key=lambda s: (order.get(s, len(order)), s)):
        rows = by_step.get(step, [])
        starts = [r[7] for r in rows if r[7] is not None]
        ends = [r[8] for r in rows if r[8] is not None]
        waits = [_wait(r[6], r[7], r[9]) for r in rows]
        out.append(
            StepSummary(
                step=step, n_task_runs=sum(steps[step].values()), states=dict(sorted(steps[step].items())),
                n_attempts=len(rows), n_failed_attempts=sum(r[5] in FAILED_TRIES for r in rows),
                started_at=min(starts) if starts else None, ended_at=max(ends) if ends else None,
                busy_s=sum((r[8] - r[7]).total_seconds() for r in rows if r[7] and r[8]),
                queue_wait_s=sum(waits), max_queue_wait_s=max(waits, default=0.0),
            )
        )  # fmt: skip
    return out


def _steps_of(attempts: list[tuple]) -> dict[str, Counter]:
    """``{step: Counter(task-run state)}`` of one LAT run's :func:`_attempt_rows` (each task run once)."""
    seen: dict[str, tuple[str, str]] = {}
    for _, step, key, run_state, *_rest in attempts:
        seen.setdefault(f"{step}/{key}", (step, run_state))
    out: dict[str, Counter] = defaultdict(Counter)
    for step, run_state in seen.values():
        out[step][run_state] += 1
    return dict(out)


def _summaries(
    session: Session,
    run_ids: list[int],
    halfpipe: dict[int, RunState],
    attempts: list[tuple] | None = None,
    l1: dict[int, str] | None = None,
) -> list[LatRunSummary]:
    """The summaries of the LAT runs ``run_ids`` (their :func:`_attempt_rows` read unless given;
    their L1 states ``l1`` as the listing filtered them, else from those rows)."""
    order = _step_order()
    if attempts is None:
        attempts = _attempt_rows(session, run_ids)
    per_run: dict[int, list[tuple]] = defaultdict(list)
    for row in attempts:
        per_run[row[0]].append(row)
    deliveries = _deliveries_of(session, run_ids) if has_tables(session, Chunk.__tablename__) else {}
    products = _products_of(session, run_ids)
    out = []
    for r in run_ids:
        steps = _steps_of(per_run.get(r, []))
        out.append(
            LatRunSummary(
                run_id=r, key=lat_key(r), halfpipe=halfpipe.get(r),
                l1_state=l1[r] if l1 is not None else _l1_state(_flags_of(steps)),
                steps=_step_summaries(steps, per_run.get(r, []), order),
                deliveries=deliveries.get(r, []), products=products[r],
            )
        )  # fmt: skip
    return out


def lat_runs(
    session: Session,
    *,
    l1_state: str | None = None,
    halfpipe_state: str | None = None,
    text: str | None = None,
    page: int = 1,
    per_page: int = 25,
) -> LatRunPage:
    """One page of LAT runs, newest first, with the L1-state counts over every run.

    Parameters
    ----------
    l1_state
        Only runs in this L1 state (one of :data:`L1_STATES`).
    halfpipe_state
        Only runs in this halfpipe state (a key of :func:`fermi_halfpipe.published.state_counts`).
    text
        Only the runs a search names (:func:`search`).
    page, per_page
        Which page (from 1) of how many runs.

    Raises
    ------
    ValueError
        An unknown state, a page below 1 or a bad search (:class:`SearchError`).
    """
    if l1_state and l1_state not in L1_STATES:
        raise ValueError(f"unknown L1 state {l1_state!r}: one of {', '.join(L1_STATES)}")
    if page < 1 or per_page < 1:
        raise ValueError(f"page {page} of {per_page} runs: both must be at least 1")
    world = _world(session)
    ids = world.run_ids
    if text:
        named = search(session, text, ids)
        ids = [r for r in ids if r in named]
    if l1_state:
        ids = [r for r in ids if world.l1[r] == l1_state]
    if halfpipe_state:
        ids = [r for r in ids if (h := world.halfpipe.get(r)) is not None and h.state == halfpipe_state]
    counts = Counter(world.l1.values())
    shown = ids[(page - 1) * per_page : page * per_page]
    return LatRunPage(
        runs=_summaries(session, shown, world.halfpipe, l1=world.l1),
        total=len(ids),
        page=page,
        per_page=per_page,
        l1_counts={s: counts.get(s, 0) for s in L1_STATES},
    )


def _has_chunks(session: Session, run_id: int) -> bool:
    if not has_tables(session, Chunk.__tablename__):
        return False
    return session.scalar(select(Chunk.id).where(Chunk.run_id == run_id).limit(1)) is not None


def lat_run(session: Session, run_id: int) -> LatRunDetail | None:
    """One LAT run with every attempt of its task runs, or None when nothing knows the run.

    Reads only that run: its task runs and attempts, its halfpipe state, whether ingest cut a
    chunk of it, its deliveries and products.
    """
    rows = _attempt_rows(session, [run_id])
    halfpipe = {int(h.run_id): h for h in run_states(session, runs=[run_id])}
    if not rows and not halfpipe and not _has_chunks(session, run_id):
        return None
    (summary,) = _summaries(session, [run_id], halfpipe, rows)
    order = _step_order()
    rows = sorted(rows, key=lambda r: (order.get(r[1], len(order)), r[1], r[2], r[4] or 0))
    bars = [AttemptBar(key, step, number, state, sub, start, end)
            for _, step, key, _, number, state, sub, start, end, _ in rows if number is not None]  # fmt: skip
    task_runs = list(dict.fromkeys((r[1], r[2], r[3]) for r in rows))
    return LatRunDetail(summary, bars, task_runs)
