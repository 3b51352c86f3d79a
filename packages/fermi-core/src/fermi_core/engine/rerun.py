"""Re-run ("repipe") requests: file, claim, settle. A failed step or a whole subject, with who, why, when.

A request names either one task run, ``TASK/KEY`` (e.g. ``l1run/r0239557414``), or the subject
of a re-run :class:`~fermi_core.engine.registry.Chain` (e.g. the LAT run ``r0239557414`` of the
L1 chain), meaning every task run of that chain whose key is the subject's key or one of its
pieces (``KEY.*``). ``step`` restricts a subject to one task of its chain; for a ``TASK/KEY``
request the only step is the task itself. Which chains exist, and how a subject is written, is
declared by the installed tasks: this module names no task.

* A step can be re-run when it failed or crashed; a subject when none of its task runs is in
  flight (queued, running), held or late -- finished work is redone from its inputs -- and the
  chain's owner does not refuse it: a chain may declare a ``rerun_guard``
  (:class:`~fermi_core.engine.registry.Chain`) with its own rule, asked at request and at claim
  (the L1 chain refuses redoing done work of a LAT-run version whose products are catalogued:
  that is reprocessing, a next version).
* :func:`request_rerun` only records the request (anyone may call it: a command, the ops page).
  A driver owns the work: :func:`claim_pending` requeues the targets, moving aside what each
  task declares as intermediate outputs (under ``.rerun-<id>/`` next to them, never deleted) so
  they are really recomputed; :func:`requeued_items` feeds the requeued task runs to their
  stage once their inputs are ready (the earlier tasks of their chain done, and the task's own
  ``ready`` check); :func:`settle` marks the request ``done`` (or ``failed``, naming what did
  not end done) with the attempts it created.

Re-runs cannot wedge: a target that can never run (an earlier task of its chain failed, or its
input is missing with nothing left to make it) is given up (``cancelled``) by :func:`settle` at
the end of the pass, so the request is settled ``failed`` with the reason instead of staying
queued; a failed, crashed or cancelled step can always be re-requested (its later, not done
task runs of the chain are requeued with it), and so can a subject none of whose task runs is
in flight.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.orm import Session

from fermi_core.db import session_scope
from fermi_core.engine.models import RerunRequest, RerunTarget, Task, TaskAttempt, TaskRun, utcnow
from fermi_core.engine.registry import Chain, RerunCandidate, UnknownTask, chains, get_task, subjects_of
from fermi_core.engine.states import BUSY, FINAL, RERUNNABLE, RequestState, State
from fermi_core.site import Site

__all__ = [
    "RerunError",
    "attempt_base",
    "claim_pending",
    "request_rerun",
    "requests_for",
    "requeued_items",
    "settle",
]  # fmt: skip


class RerunError(ValueError):
    """A re-run that cannot be requested, with the reason; ``status`` is the matching HTTP status."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


def _belongs(key: str):
    """SQL condition: a task run's key is the subject's ``key`` or one of its pieces (``key.*``)."""
    return or_(TaskRun.key == key, TaskRun.key.startswith(f"{key}.", autoescape=True))


def _expected() -> str:
    known = sorted(chains().values(), key=lambda c: c.name)
    example = (
        f"{known[0].tasks[-1]}/{known[0].examples.split()[0]}" if known and known[0].examples else "task/KEY"
    )
    subjects = "".join(f" or a {c.subject} ({c.examples or c.name})" for c in known)
    return f"expected TASK/KEY (e.g. {example}){subjects}"


def _chain_rows(s: Session, chain: Chain, key: str) -> list[tuple[TaskRun, str]]:
    query = (
        select(TaskRun, Task.name)
        .join(Task, Task.id == TaskRun.task_pk)
        .where(Task.name.in_(chain.tasks), _belongs(key))
        .order_by(TaskRun.id)
    )
    return [tuple(r) for r in s.execute(query)]


def _subject(s: Session, text: str) -> tuple[Chain, str] | None:
    """The chain and subject key ``text`` names: of the chains whose subject it can be, the first
    (by name) that has task runs for it, else the first."""
    found = subjects_of(text)
    for chain, key in found:
        if s.scalar(select(TaskRun.id).join(Task).where(Task.name.in_(chain.tasks), _belongs(key)).limit(1)):
            return chain, key
    return found[0] if found else None


def _resolve(s: Session, run: str, step: str | None) -> list[tuple[TaskRun, str]]:
    """Return the task runs (with their task names) a request of ``run``/``step`` is about."""
    if "/" in run:
        task, _, key = run.partition("/")
        query = select(TaskRun, Task.name).join(Task, Task.id == TaskRun.task_pk)
        rows = [tuple(r) for r in s.execute(query.where(Task.name == task, TaskRun.key == key))]
        if not rows:
            raise RerunError(f"no task run {run!r}", status=404)
        if step and step != task:
            raise RerunError(f"task run {run} has no step {step!r} (its only step is {task!r})", status=404)
        return rows
    found = _subject(s, run)
    if found is None:
        raise RerunError(f"no task run {run!r}: {_expected()}", status=404)
    chain, key = found
    rows = _chain_rows(s, chain, key)
    if not rows:
        raise RerunError(
            f"no task run {run!r}: no task of the {chain.name} chain ({', '.join(chain.tasks)}) has {key}",
            404,
        )
    if step:
        steps = sorted({t for _, t in rows}, key=chain.position)
        rows = [(r, t) for r, t in rows if t == step]
        if not rows:
            raise RerunError(
                f"{chain.subject} {key} has no step {step!r}: its steps are {', '.join(steps)}", 404
            )
    return rows


def _targets(s: Session, run: str, step: str | None) -> list[TaskRun]:
    """The task runs to requeue, after checking they can be re-run (raises :class:`RerunError`)."""
    rows = _resolve(s, run, step)
    busy = [(r, t) for r, t in rows if r.state in BUSY]
    if busy:
        r, t = busy[0]
        found = None if "/" in run else _subject(s, run)
        what = f"step {t} of {run}" if step else f"{found[0].subject if found else 'task run'} {run}"
        raise RerunError(f"{what} is {r.state} ({t}/{r.key}): only finished work can be re-run")
    if step:
        rerunnable = [(r, t) for r, t in rows if r.state in RERUNNABLE]
        if not rerunnable:
            state = "/".join(sorted({r.state for r, _ in rows}))
            raise RerunError(f"step {step} of {run} is {state}: only a failed or crashed step can be re-run")
        targets = [r for r, _ in rerunnable] + _downstream(s, [r for r, _ in rerunnable], step)
    else:
        targets = [r for r, _ in rows]
    _guard(s, targets, step)
    return targets


def _guard(s: Session, targets: list[TaskRun], step: str | None) -> None:
    """Ask the chains of ``targets`` whether they may be requeued (:attr:`Chain.rerun_guard`)."""
    by_chain: dict[str, tuple[Chain, list[RerunCandidate]]] = {}
    for r in targets:
        try:
            chain = get_task(r.task.name).chain
        except UnknownTask:
            continue
        if chain is not None and chain.rerun_guard is not None:
            by_chain.setdefault(chain.name, (chain, []))[1].append(
                RerunCandidate(r.task.name, r.key, r.state)
            )
    for _name, (chain, candidates) in sorted(by_chain.items()):
        refusal = chain.rerun_guard(s, candidates, step)
        if refusal:
            raise RerunError(refusal)


def _downstream(s: Session, runs: list[TaskRun], step: str) -> list[TaskRun]:
    """The later task runs of ``step``'s chain, for the subjects of ``runs``, that did not end done.

    They were given up (cancelled) or failed because this step had failed: re-running the step
    requeues them too, so the chain goes on once the step is done. Nothing of them is in
    flight (:func:`_targets` checked the subject).
    """
    try:
        chain = get_task(step).chain
    except UnknownTask:
        return []
    if chain is None or step not in chain.tasks:
        return []
    later = chain.tasks[chain.position(step) + 1 :]
    if not later:
        return []
    found: dict[int, TaskRun] = {}
    for subject in sorted({_subject_key(r.key) for r in runs}):
        for run, _ in _chain_rows(s, chain, subject):
            if run.task.name in later and run.state in RERUNNABLE and run.id not in found:
                found[run.id] = run
    return list(found.values())


def _pending_for(s: Session, runs: list[TaskRun]) -> RerunRequest | None:
    """A request not yet finished that already covers one of ``runs``."""
    pks = {r.id for r in runs}
    claimed = select(RerunTarget.request_pk).where(RerunTarget.run_pk.in_(pks))
    queued = s.scalars(
        select(RerunRequest)
        .where(RerunRequest.state == RequestState.QUEUED.value, RerunRequest.id.in_(claimed))
        .order_by(RerunRequest.id)
    ).first()
    if queued is not None:
        return queued
    waiting = s.scalars(
        select(RerunRequest)
        .where(RerunRequest.state == RequestState.REQUESTED.value)
        .order_by(RerunRequest.id)
    )
    for req in waiting:  # not claimed yet: what it names
        try:
            if pks & {r.id for r, _ in _resolve(s, req.run, req.step)}:
                return req
        except RerunError:
            continue
    return None


@contextmanager
def _session_of(session_or_url: Session | str | None) -> Iterator[Session]:
    if isinstance(session_or_url, Session):
        yield session_or_url
    else:
        with session_scope(session_or_url) as s:
            yield s


#: advisory-lock key of re-run requests (PostgreSQL; other keys: ingest 5115001, halfpipe 5115005/6)
_REQUEST_LOCK = 5115010


def _serialize_requests(s: Session, owned: bool) -> None:
    """Make the check "no request pending for these task runs" and the insert one atomic step.

    Two operators asking at the same moment would otherwise both see nothing pending and both
    record a request. PostgreSQL: a transaction-scoped advisory lock. SQLite: the write lock,
    taken when the transaction begins (only when this module opened the session).
    """
    dialect = s.get_bind().dialect.name
    if dialect == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _REQUEST_LOCK})
    elif dialect == "sqlite" and owned:
        s.connection().exec_driver_sql("BEGIN IMMEDIATE")


def request_rerun(
    session_or_url: Session | str | None,
    run: str,
    step: str | None = None,
    *,
    who: str,
    why: str,
    origin: str,
) -> RerunRequest:
    """Record a re-run request of ``run`` (``TASK/KEY`` or a chain's subject), or of its ``step``.

    Parameters
    ----------
    session_or_url
        An open session (the caller commits) or a database URL (committed here; ``None``:
        ``FERMI_DB_URL``).
    run, step
        What to re-run; see the module documentation. A subject is recorded by its key
        (``239557414`` -> ``r0239557414``).
    who, why, origin
        Who asks (required), why (at least 3 characters) and from where (``cli``, ``web``).

    Returns
    -------
    RerunRequest
        The recorded request (state ``requested``).

    Raises
    ------
    RerunError
        Unknown task run, subject or step, work in flight, a step that did not fail, a request
        already pending for the same task runs, or a missing operator name or reason.
    """
    who, why, origin, step = who.strip(), why.strip(), origin.strip(), (step or "").strip() or None
    if not who:
        raise RerunError("operator name (who) is required", status=422)
    if len(why) < 3:
        raise RerunError("a reason (why, at least 3 characters) is required", status=422)
    if not origin or len(origin) > 16:
        raise RerunError(f"origin must be 1-16 characters, got {origin!r}", status=422)
    run = run.strip()
    with _session_of(session_or_url) as s:
        _serialize_requests(s, owned=not isinstance(session_or_url, Session))
        if "/" not in run and (found := _subject(s, run)) is not None:
            run = found[1]
        targets = _targets(s, run, step)
        pending = _pending_for(s, targets)
        if pending is not None:
            raise RerunError(
                f"a re-run of {pending.run} is already {pending.state} (request {pending.id} by "
                f"{pending.requested_by})"
            )
        request = RerunRequest(run=run, step=step, requested_by=who, reason=why, origin=origin,
                               state=RequestState.REQUESTED.value, requested_at=utcnow())  # fmt: skip
        s.add(request)
        s.flush()
        s.refresh(request)
        if not isinstance(session_or_url, Session):
            s.expunge(request)
    return request


def _stored(site: Site | None, path: str | Path) -> Path:
    return site.resolve(path) if site is not None else Path(path)


def _move_aside(path: Path, request_id: int) -> None:
    """Move an intermediate output next to itself under ``.rerun-<id>/`` (kept, not deleted)."""
    if not path.exists():
        return
    dest = path.parent / f".rerun-{request_id}" / path.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    path.replace(dest)  # a move on the same file system, not a write


def _intermediate(task: str, params: str, site: Site | None) -> list[Path]:
    """What task ``task`` declares as intermediate outputs for ``params`` (none if not installed).

    Stored paths are relative to the data home: resolved against ``site`` (as they are without one).
    """
    try:
        spec = get_task(task)
    except UnknownTask:
        return []
    if spec.intermediate is None:
        return []
    return [_stored(site, p) for p in spec.intermediate(spec.load(params)) if p]


def _requested_ids(db_url: str | None) -> list[int]:
    """Ids of the requests waiting for a driver, oldest first."""
    with session_scope(db_url) as s:
        return list(
            s.scalars(
                select(RerunRequest.id)
                .where(RerunRequest.state == RequestState.REQUESTED.value)
                .order_by(RerunRequest.id)
            )
        )


def _claim_one(db_url: str | None, request_id: int, site: Site | None = None) -> bool:
    """Claim request ``request_id`` and requeue its targets in one transaction; False if another driver had it.

    The claim is a conditional update (``state`` from ``requested`` to ``queued``), the first
    statement of the transaction: on PostgreSQL a second driver claiming the same request waits
    on the row lock and, once the first commits, updates no row; on SQLite the update takes the
    database's write lock, so the two claims are serialised the same way. Only the driver whose
    update changed the row moves outputs aside and writes the targets.
    """
    with session_scope(db_url) as s:
        now = utcnow()
        claimed = s.execute(
            update(RerunRequest)
            .where(RerunRequest.id == request_id, RerunRequest.state == RequestState.REQUESTED.value)
            .values(state=RequestState.QUEUED.value, queued_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:
            return False
        req = s.get(RerunRequest, request_id)
        try:
            targets = _targets(s, req.run, req.step)
        except RerunError as exc:
            req.state, req.queued_at, req.done_at, req.outcome = (
                RequestState.REFUSED.value,
                None,
                now,
                str(exc),
            )
            return False
        for run in targets:
            for path in _intermediate(run.task.name, run.params, site):
                _move_aside(path, req.id)
            base = s.scalar(select(func.count()).where(TaskAttempt.run_pk == run.id)) or 0
            s.add(RerunTarget(request_pk=req.id, run_pk=run.id, attempt_base=base))
            run.state, run.updated_at = State.QUEUED.value, now
    return True


def claim_pending(db_url: str | None, site: Site | None = None) -> list[int]:
    """Requeue the targets of every ``requested`` request (a driver's hook); return the request ids.

    Each request is claimed atomically (:func:`_claim_one`): when two drivers run at once, exactly
    one acts on a request and the other skips it without error. A request whose task runs changed
    since it was made (now in flight, or its step no longer failed) is marked ``refused`` with
    the reason. ``site`` is the driver's data home, against which stored paths are resolved.
    """
    return [rid for rid in _requested_ids(db_url) if _claim_one(db_url, rid, site)]


def attempt_base(s: Session, run_pk: int) -> int:
    """Attempts of a task run made before its latest re-run (0 if never re-run): the retry budget starts there."""
    return s.scalar(select(func.max(RerunTarget.attempt_base)).where(RerunTarget.run_pk == run_pk)) or 0


def _subject_key(key: str) -> str:
    """The subject a task run's key belongs to: the key up to its first dot."""
    return key.partition(".")[0]


def _inputs_ready(s: Session, task: str, run: TaskRun, site: Site | None) -> bool:
    """True when the earlier tasks of the run's chain are done for its subject and the task's check passes."""
    try:
        spec = get_task(task)
    except UnknownTask:
        return False
    if spec.chain is not None:
        earlier = spec.chain.tasks[: spec.chain.position(task)]
        if earlier:
            states = s.scalars(
                select(TaskRun.state)
                .join(Task, Task.id == TaskRun.task_pk)
                .where(Task.name.in_(earlier), _belongs(_subject_key(run.key)))
            ).all()
            if any(st != State.DONE for st in states):
                return False
    return spec.ready is None or spec.ready(spec.load(run.params), site)


def requeued_items(
    db_url: str | None,
    task: str,
    exclude: set[str] | frozenset[str] = frozenset(),
    site: Site | None = None,
) -> list[tuple[str, Any]]:
    """``(key, params)`` of the task runs of ``task`` requeued by a request and whose inputs are ready.

    Task runs whose inputs are not ready yet (waiting for the earlier tasks of their chain, or
    for what the task's ``ready`` check needs) stay queued for a later pass. A target left
    ``crashed`` (its driver died during the attempt) is fed again too: the driver retries it
    within the budget that restarted at the re-run.
    """
    spec = get_task(task)
    with session_scope(db_url) as s:
        rows = s.scalars(
            select(TaskRun)
            .join(Task, Task.id == TaskRun.task_pk)
            .join(RerunTarget, RerunTarget.run_pk == TaskRun.id)
            .join(RerunRequest, RerunRequest.id == RerunTarget.request_pk)
            .where(
                Task.name == task,
                TaskRun.state.in_(_WAITING),
                RerunRequest.state == RequestState.QUEUED.value,
            )
            .order_by(TaskRun.id)
            .distinct()
        ).all()
        return [
            (r.key, spec.load(r.params))
            for r in rows
            if r.key not in exclude and _inputs_ready(s, task, r, site)
        ]


def _blocker(s: Session, run: TaskRun, site: Site | None) -> str | None:
    """Why the waiting target ``run`` can never run as things are, or None while it still can.

    It cannot when an earlier task run of its chain for its subject ended without being done
    (failed, cancelled: nothing will make its input), or when every earlier one is final and
    the task's own ``ready`` check still fails (its input is missing and no task will make it;
    only judged with the driver's ``site``).
    """
    try:
        spec = get_task(run.task.name)
    except UnknownTask:
        return f"task {run.task.name!r} is not installed"
    if spec.chain is not None:
        earlier = spec.chain.tasks[: spec.chain.position(spec.name)]
        rows = s.execute(
            select(Task.name, TaskRun.key, TaskRun.state)
            .join(Task, Task.id == TaskRun.task_pk)
            .where(Task.name.in_(earlier), _belongs(_subject_key(run.key)))
            .order_by(TaskRun.id)
        ).all()
        for name, key, state in rows:
            if state in FINAL and state != State.DONE:
                return f"its input {name}/{key} is {state}"
        if any(state not in FINAL for _, _, state in rows):
            return None  # an earlier task run is still to run (or to retry)
    if site is not None and spec.ready is not None and not spec.ready(spec.load(run.params), site):
        return "its input is missing (the task's ready check fails) and no task of its chain will make it"
    return None


#: task-run states of a requeued target that may still run (fed by :func:`requeued_items`)
_WAITING = (State.QUEUED.value, State.CRASHED.value)


def settle(db_url: str | None, site: Site | None = None) -> list[int]:
    """Finish every queued request whose targets are all final; return their ids.

    Called at the end of a driver pass. A target still waiting that can never run (an earlier
    task of its chain failed or was given up, or its input is missing with nothing left to make
    it: :func:`_blocker`) is marked ``cancelled`` first, so that a request never stays queued
    once nothing of it can run; the targets are examined in chain order, so a given-up run
    input gives up its L1 run too. A request is then ``done`` when every target ended done,
    ``failed`` otherwise, its outcome naming each target not done and why. It records the ids
    of the attempts made since it requeued its targets. Every target can be re-requested at
    once (a cancelled or failed step, or the whole subject).

    ``site`` is the driver's data home, against which the tasks' ``ready`` checks resolve
    stored paths; without it a target whose ``ready`` check fails is left waiting.
    """
    settled = []
    with session_scope(db_url) as s:
        for req in s.scalars(
            select(RerunRequest).where(RerunRequest.state == RequestState.QUEUED.value)
        ).all():
            targets = s.execute(
                select(TaskRun, RerunTarget.attempt_base)
                .join(RerunTarget, RerunTarget.run_pk == TaskRun.id)
                .where(RerunTarget.request_pk == req.id)
            ).all()
            why: dict[int, str] = {}
            for run, _ in sorted(targets, key=lambda t: _chain_order(t[0])):
                if run.state in _WAITING and (reason := _blocker(s, run, site)) is not None:
                    run.state, run.updated_at = State.CANCELLED.value, utcnow()
                    why[run.id] = reason
                    s.flush()
            if any(run.state not in FINAL for run, _ in targets):
                continue
            ids = []
            for run, base in targets:
                ids += s.scalars(
                    select(TaskAttempt.id)
                    .where(TaskAttempt.run_pk == run.id, TaskAttempt.number > base)
                    .order_by(TaskAttempt.id)
                ).all()
            bad = [
                f"{run.task.name}/{run.key} {run.state}" + (f" ({why[run.id]})" if run.id in why else "")
                for run, _ in targets
                if run.state != State.DONE
            ]
            req.attempt_ids = json.dumps(sorted(ids))
            req.outcome = "done" if not bad else f"{len(bad)} of {len(targets)} not done: " + ", ".join(bad)
            req.state = RequestState.DONE.value if not bad else RequestState.FAILED.value
            req.done_at = utcnow()
            settled.append(req.id)
    return settled


def _chain_order(run: TaskRun) -> tuple[int, int]:
    """Sort key of a target: its task's place in its chain, then its id."""
    try:
        chain = get_task(run.task.name).chain
    except UnknownTask:
        chain = None
    return (chain.position(run.task.name) if chain is not None else 0, run.id)


def requests_for(s: Session, run: str | None = None, run_pk: int | None = None) -> list[RerunRequest]:
    """Requests naming ``run`` or covering the task run ``run_pk``, newest first."""
    conds = []
    if run is not None:
        conds.append(RerunRequest.run == run)
    if run_pk is not None:
        conds.append(RerunRequest.id.in_(select(RerunTarget.request_pk).where(RerunTarget.run_pk == run_pk)))
    if not conds:
        return []
    return list(s.scalars(select(RerunRequest).where(or_(*conds)).order_by(RerunRequest.id.desc())))
