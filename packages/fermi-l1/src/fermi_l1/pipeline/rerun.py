"""Re-run ("repipe") requests: a failed step or a whole run, recorded with who, why and when.

A request names either one task run, ``TASK/KEY`` (e.g. ``l1run/r0239557414``), or a LAT run,
``r0239557414`` (or ``239557414``), meaning its whole L1 chain: the recon crumbs, the run input and
the L1 run. ``step`` restricts a LAT run to one task (``recon``, ``runinput``, ``l1run``); for a
``TASK/KEY`` run the only step is the task itself.

* A step can be re-run when it failed or crashed; a whole run when none of its tasks is in
  flight (queued, running), held or late -- a finished run is redone from its inputs.
* :func:`request_rerun` only records the request (anyone may call it: ``fermi-l1 rerun``, the
  isoc page). The pipeline driver owns the work: on its next pass (:func:`claim_pending`) it
  requeues the targets, moving the intermediate outputs of recon crumbs and run inputs aside
  (under ``.rerun-<id>/`` next to them, never deleted) so they are really recomputed;
  :func:`requeued_items` feeds the requeued runs to their stage once their inputs are ready, and
  :func:`settle` marks the request ``done`` with the attempts it created.
* Products are rewritten under temporary names and renamed, with the run's fixed processing
  date, and the catalog registration is idempotent: a re-run on unchanged inputs gives the same
  bytes and no new catalog row.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.orm import Session

from fermi_l1.db import session as l1_session
from fermi_l1.pipeline.models import (
    PipelineAttempt,
    PipelineRerunRequest,
    PipelineRerunTarget,
    PipelineRun,
    PipelineTask,
    utcnow,
)

#: tasks of one LAT run's L1 chain, in order
CHAIN = ("recon", "runinput", "l1run")
#: states in which a step can be re-run
STEP_RERUNNABLE = ("failed", "crashed")
#: states in which a run cannot be re-run (work in flight or waiting)
BUSY = ("queued", "running", "held", "late")
#: states the driver leaves a run in at the end of a pass
FINAL = ("done", "failed", "cancelled")
PENDING = ("requested", "queued")

_LAT_RUN = re.compile(r"^r?(\d{1,10})$")


class RerunError(ValueError):
    """A re-run that cannot be requested, with the reason; ``status`` is the matching HTTP status."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


def _lat_key(run: str) -> str | None:
    m = _LAT_RUN.match(run.strip())
    return None if m is None else f"r{int(m.group(1)):010d}"


def _resolve(s: Session, run: str, step: str | None) -> list[tuple[PipelineRun, str]]:
    """Return the task runs (with their task names) a request of ``run``/``step`` is about."""
    query = select(PipelineRun, PipelineTask.name).join(PipelineTask, PipelineTask.id == PipelineRun.task_pk)
    if "/" in run:
        task, _, key = run.partition("/")
        rows = [tuple(r) for r in s.execute(query.where(PipelineTask.name == task, PipelineRun.key == key))]
        if not rows:
            raise RerunError(f"no pipeline run {run!r}", status=404)
        if step and step != task:
            raise RerunError(f"run {run} has no step {step!r} (its only step is {task!r})", status=404)
        return rows
    key = _lat_key(run)
    if key is None:
        raise RerunError(
            f"no pipeline run {run!r}: expected TASK/KEY (e.g. l1run/r0239557414) or a LAT run "
            "(r0239557414 or 239557414)",
            status=404,
        )
    chain = query.where(
        PipelineTask.name.in_(CHAIN), or_(PipelineRun.key == key, PipelineRun.key.like(f"{key}.%"))
    )
    rows = [tuple(r) for r in s.execute(chain.order_by(PipelineRun.id))]
    if not rows:
        raise RerunError(
            f"no pipeline run {run!r}: no task of the L1 chain ({', '.join(CHAIN)}) has {key}", 404
        )
    if step:
        steps = sorted({t for _, t in rows}, key=CHAIN.index)
        rows = [(r, t) for r, t in rows if t == step]
        if not rows:
            raise RerunError(f"run {key} has no step {step!r}: its steps are {', '.join(steps)}", status=404)
    return rows


def _targets(s: Session, run: str, step: str | None) -> list[PipelineRun]:
    """The task runs to requeue, after checking they can be re-run (raises :class:`RerunError`)."""
    rows = _resolve(s, run, step)
    busy = [(r, t) for r, t in rows if r.state in BUSY]
    if busy:
        r, t = busy[0]
        what = f"step {t} of run {run}" if step else f"run {run}"
        raise RerunError(
            f"{what} is {r.state} ({t}/{r.key}): only a run whose work has finished can be re-run"
        )
    if step:
        rerunnable = [(r, t) for r, t in rows if r.state in STEP_RERUNNABLE]
        if not rerunnable:
            state = "/".join(sorted({r.state for r, _ in rows}))
            raise RerunError(
                f"step {step} of run {run} is {state}: only a failed or crashed step can be re-run"
            )
        rows = rerunnable
    return [r for r, _ in rows]


def _pending_for(s: Session, runs: list[PipelineRun]) -> PipelineRerunRequest | None:
    """A request not yet finished that already covers one of ``runs``."""
    pks = {r.id for r in runs}
    claimed = select(PipelineRerunTarget.request_pk).where(PipelineRerunTarget.run_pk.in_(pks))
    queued = s.scalars(
        select(PipelineRerunRequest)
        .where(PipelineRerunRequest.state == "queued", PipelineRerunRequest.id.in_(claimed))
        .order_by(PipelineRerunRequest.id)
    ).first()
    if queued is not None:
        return queued
    waiting = s.scalars(
        select(PipelineRerunRequest)
        .where(PipelineRerunRequest.state == "requested")
        .order_by(PipelineRerunRequest.id)
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
        with l1_session(session_or_url) as s:
            yield s


#: advisory-lock key of re-run requests (PostgreSQL; other keys: ingest 5115001, halfpipe 5115005/6)
_REQUEST_LOCK = 5115010


def _serialize_requests(s: Session, owned: bool) -> None:
    """Make the check "no request pending for these runs" and the insert one atomic step.

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
) -> PipelineRerunRequest:
    """Record a re-run request of ``run`` (``TASK/KEY`` or a LAT run), or of its ``step``.

    Parameters
    ----------
    session_or_url
        An open session (the caller commits) or a database URL (committed here; ``None``:
        ``FERMI_DB_URL``).
    run, step
        What to re-run; see the module documentation.
    who, why, origin
        Who asks (required), why (at least 3 characters) and from where (``cli``, ``web``).

    Returns
    -------
    PipelineRerunRequest
        The recorded request (state ``requested``).

    Raises
    ------
    RerunError
        Unknown run or step, a run in flight, a step that did not fail, a request already pending
        for the same run, or a missing operator name or reason.
    """
    who, why, origin, step = who.strip(), why.strip(), origin.strip(), (step or "").strip() or None
    if not who:
        raise RerunError("operator name (who) is required", status=422)
    if len(why) < 3:
        raise RerunError("a reason (why, at least 3 characters) is required", status=422)
    if not origin or len(origin) > 16:
        raise RerunError(f"origin must be 1-16 characters, got {origin!r}", status=422)
    run = run.strip()
    if "/" not in run and _lat_key(run) is not None:
        run = _lat_key(run)
    with _session_of(session_or_url) as s:
        _serialize_requests(s, owned=not isinstance(session_or_url, Session))
        targets = _targets(s, run, step)
        pending = _pending_for(s, targets)
        if pending is not None:
            raise RerunError(
                f"a re-run of {pending.run} is already {pending.state} (request {pending.id} by "
                f"{pending.requested_by})"
            )
        request = PipelineRerunRequest(run=run, step=step, requested_by=who, reason=why, origin=origin,
                                       state="requested", requested_at=utcnow())  # fmt: skip
        s.add(request)
        s.flush()
        s.refresh(request)
        if not isinstance(session_or_url, Session):
            s.expunge(request)
    return request


def _move_aside(path: Path, request_id: int) -> None:
    """Move an intermediate output next to itself under ``.rerun-<id>/`` (kept, not deleted)."""
    if not path.exists():
        return
    dest = path.parent / f".rerun-{request_id}" / path.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, dest)


def _requested_ids(db_url: str | None) -> list[int]:
    """Ids of the requests waiting for a driver, oldest first."""
    with l1_session(db_url) as s:
        return list(
            s.scalars(
                select(PipelineRerunRequest.id)
                .where(PipelineRerunRequest.state == "requested")
                .order_by(PipelineRerunRequest.id)
            )
        )


def _claim_one(db_url: str | None, request_id: int) -> bool:
    """Claim request ``request_id`` and requeue its targets in one transaction; False if another driver had it.

    The claim is a conditional update (``state`` from ``requested`` to ``queued``), the first
    statement of the transaction: on PostgreSQL a second driver claiming the same request waits
    on the row lock and, once the first commits, updates no row; on SQLite the update takes the
    database's write lock, so the two claims are serialised the same way. Only the driver whose
    update changed the row moves outputs aside and writes the targets.
    """
    with l1_session(db_url) as s:
        now = utcnow()
        claimed = s.execute(
            update(PipelineRerunRequest)
            .where(PipelineRerunRequest.id == request_id, PipelineRerunRequest.state == "requested")
            .values(state="queued", queued_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:
            return False
        req = s.get(PipelineRerunRequest, request_id)
        try:
            targets = _targets(s, req.run, req.step)
        except RerunError as exc:
            req.state, req.queued_at, req.done_at, req.outcome = "refused", None, now, str(exc)
            return False
        for run in targets:
            params = json.loads(run.params or "{}")
            task = run.task.name
            if task == "recon" and params.get("out"):
                _move_aside(Path(params["out"]), req.id)
            elif task == "runinput" and params.get("input_dir"):
                _move_aside(Path(params["input_dir"]), req.id)
            base = s.scalar(select(func.count()).where(PipelineAttempt.run_pk == run.id)) or 0
            s.add(PipelineRerunTarget(request_pk=req.id, run_pk=run.id, attempt_base=base))
            run.state, run.updated_at = "queued", now
    return True


def claim_pending(db_url: str | None) -> list[int]:
    """Requeue the targets of every ``requested`` request (the driver's hook); return the request ids.

    Each request is claimed atomically (:func:`_claim_one`): when two drivers run at once, exactly
    one acts on a request and the other skips it without error. A request whose run changed
    since it was made (now in flight, or its step no longer failed) is marked ``refused`` with
    the reason.
    """
    return [rid for rid in _requested_ids(db_url) if _claim_one(db_url, rid)]


def attempt_base(s: Session, run_pk: int) -> int:
    """Attempts of a run made before its latest re-run (0 if never re-run): the retry budget starts there."""
    return (
        s.scalar(
            select(func.max(PipelineRerunTarget.attempt_base)).where(PipelineRerunTarget.run_pk == run_pk)
        )
        or 0
    )


def _inputs_ready(s: Session, task: str, run: PipelineRun, params: dict) -> bool:
    if task == "runinput":  # every recon crumb of the run done
        states = s.scalars(
            select(PipelineRun.state)
            .join(PipelineTask, PipelineTask.id == PipelineRun.task_pk)
            .where(PipelineTask.name == "recon", PipelineRun.key.like(f"{run.key}.%"))
        ).all()
        return bool(states) and all(st == "done" for st in states)
    if task == "l1run":
        return (Path(params.get("input_dir", "")) / "run.json").is_file()
    return True


def requeued_items(db_url: str | None, task: str, exclude: set[str] | frozenset[str] = frozenset()) -> list:
    """``(key, params)`` of the runs of ``task`` requeued by a request and whose inputs are ready.

    Runs whose inputs are not ready yet (a run input waiting for its crumbs, an L1 run for its run
    input) stay queued for a later pass.
    """
    with l1_session(db_url) as s:
        rows = s.scalars(
            select(PipelineRun)
            .join(PipelineTask, PipelineTask.id == PipelineRun.task_pk)
            .join(PipelineRerunTarget, PipelineRerunTarget.run_pk == PipelineRun.id)
            .join(PipelineRerunRequest, PipelineRerunRequest.id == PipelineRerunTarget.request_pk)
            .where(
                PipelineTask.name == task,
                PipelineRun.state == "queued",
                PipelineRerunRequest.state == "queued",
            )
            .order_by(PipelineRun.id)
            .distinct()
        ).all()
        items = []
        for run in rows:
            params = json.loads(run.params or "{}")
            if run.key not in exclude and _inputs_ready(s, task, run, params):
                items.append((run.key, params))
    return items


def settle(db_url: str | None) -> list[int]:
    """Mark ``done`` every queued request whose targets are all final; return their ids.

    The request records the ids of the attempts made since it requeued its targets and an
    outcome (``done`` or how many targets failed).
    """
    settled = []
    with l1_session(db_url) as s:
        for req in s.scalars(
            select(PipelineRerunRequest).where(PipelineRerunRequest.state == "queued")
        ).all():
            targets = s.execute(
                select(PipelineRun, PipelineRerunTarget.attempt_base)
                .join(PipelineRerunTarget, PipelineRerunTarget.run_pk == PipelineRun.id)
                .where(PipelineRerunTarget.request_pk == req.id)
            ).all()
            if any(run.state not in FINAL for run, _ in targets):
                continue
            ids = []
            for run, base in targets:
                ids += s.scalars(
                    select(PipelineAttempt.id)
                    .where(PipelineAttempt.run_pk == run.id, PipelineAttempt.number > base)
                    .order_by(PipelineAttempt.id)
                ).all()
            bad = [f"{run.task.name}/{run.key} {run.state}" for run, _ in targets if run.state != "done"]
            req.attempt_ids = json.dumps(sorted(ids))
            req.outcome = "done" if not bad else f"{len(bad)} of {len(targets)} not done: " + ", ".join(bad)
            req.state, req.done_at = "done", utcnow()
            settled.append(req.id)
    return settled


def requests_for(s: Session, run: str | None = None, run_pk: int | None = None) -> list[PipelineRerunRequest]:
    """Requests naming ``run`` or covering the task run ``run_pk``, newest first."""
    conds = []
    if run is not None:
        conds.append(PipelineRerunRequest.run == run)
    if run_pk is not None:
        conds.append(
            PipelineRerunRequest.id.in_(
                select(PipelineRerunTarget.request_pk).where(PipelineRerunTarget.run_pk == run_pk)
            )
        )
    if not conds:
        return []
    return list(
        s.scalars(select(PipelineRerunRequest).where(or_(*conds)).order_by(PipelineRerunRequest.id.desc()))
    )
