"""Queries over the pipeline driver's run-state tables (fermi-l1) and the data catalog.

fermi-l1's pipeline tables were not yet published when this was written, so the layout read
here is declared in :mod:`fermi_isoc.queries.pipeline_schema` (one run row per pipeline run of a
task, one attempt row per try of a step). When fermi-l1 lands its models, only that module and
this one change. If the tables are absent the functions return nothing and
:func:`pipeline_available` says so, so the page still shows the deliveries.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from fermi_isoc.queries.ingest import _utc
from fermi_isoc.queries.pipeline_schema import ATTEMPT, RUN

#: Run and attempt states of the pipeline driver (architecture.md, Execution).
STATES = ("queued", "running", "done", "failed", "crashed", "held", "late", "cancelled")


@dataclass(frozen=True)
class AttemptInfo:
    """One try of one step of a run."""

    step: str
    attempt: int
    state: str
    exit_code: int | None
    host: str
    batch_id: str
    log_path: str
    started_at: datetime | None
    ended_at: datetime | None

    @property
    def duration_s(self) -> float | None:
        """Wall time of the attempt, seconds (None while it runs)."""
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class RunInfo:
    """One pipeline run with the state counts of its steps (the latest attempt of each)."""

    key: str
    task: str
    run_id: int | None
    state: str
    delivery_id: str
    created_at: datetime | None
    updated_at: datetime | None
    step_states: dict[str, int]
    n_attempts: int
    n_failed_attempts: int


@dataclass(frozen=True)
class ProductInfo:
    """A catalogued product of a run."""

    data_type: str
    logical_path: str
    version: int
    file_path: str
    checksum: str


def pipeline_available(session: Session) -> bool:
    """True when the pipeline run-state tables exist in the database."""
    names = set(inspect(session.get_bind()).get_table_names())
    return RUN.name in names and ATTEMPT.name in names


def _attempt_rows(session: Session, run_pks: list[int]) -> dict[int, list[AttemptInfo]]:
    out: dict[int, list[AttemptInfo]] = {pk: [] for pk in run_pks}
    if not run_pks:
        return out
    a = ATTEMPT.c
    rows = session.execute(
        select(ATTEMPT).where(a.run_pk.in_(run_pks)).order_by(a.run_pk, a.step, a.attempt)
    ).mappings()
    for r in rows:
        out[r["run_pk"]].append(
            AttemptInfo(
                r["step"], r["attempt"], r["state"], r["exit_code"], r["host"] or "", r["batch_id"] or "",
                r["log_path"] or "", _utc(r["started_at"]), _utc(r["ended_at"]),
            )
        )  # fmt: skip
    return out


def _run_info(row, attempts: list[AttemptInfo]) -> RunInfo:
    latest: dict[str, AttemptInfo] = {}
    for att in attempts:
        if att.step not in latest or att.attempt > latest[att.step].attempt:
            latest[att.step] = att
    return RunInfo(
        key=row["key"],
        task=row["task"],
        run_id=row["run_id"],
        state=row["state"],
        delivery_id=row["delivery_id"] or "",
        created_at=_utc(row["created_at"]),
        updated_at=_utc(row["updated_at"]),
        step_states=dict(Counter(a.state for a in latest.values())),
        n_attempts=len(attempts),
        n_failed_attempts=sum(a.state in ("failed", "crashed") for a in attempts),
    )


def runs(session: Session, state: str | None = None, limit: int = 500) -> list[RunInfo]:
    """Pipeline runs, newest first, optionally only those in ``state``."""
    if not pipeline_available(session):
        return []
    query = select(RUN).order_by(RUN.c.created_at.desc(), RUN.c.id.desc()).limit(limit)
    if state:
        query = query.where(RUN.c.state == state)
    rows = list(session.execute(query).mappings())
    attempts = _attempt_rows(session, [r["id"] for r in rows])
    return [_run_info(r, attempts[r["id"]]) for r in rows]


def run_by_key(session: Session, key: str) -> RunInfo | None:
    """One run by its key, or None."""
    if not pipeline_available(session):
        return None
    row = session.execute(select(RUN).where(RUN.c.key == key)).mappings().first()
    if row is None:
        return None
    return _run_info(row, _attempt_rows(session, [row["id"]])[row["id"]])


def attempts_of(session: Session, key: str) -> list[AttemptInfo]:
    """Every attempt of every step of a run, by step then attempt number."""
    if not pipeline_available(session):
        return []
    pk = session.scalar(select(RUN.c.id).where(RUN.c.key == key))
    return [] if pk is None else _attempt_rows(session, [pk])[pk]


def runs_of_delivery(session: Session, delivery_id: str, lat_run_ids: list[int]) -> list[RunInfo]:
    """Runs fed by a delivery: those naming it, or processing a LAT run its chunks carry."""
    if not pipeline_available(session):
        return []
    query = select(RUN).where(
        (RUN.c.delivery_id == delivery_id) | RUN.c.run_id.in_([r for r in lat_run_ids if r is not None])
    )
    rows = list(session.execute(query.order_by(RUN.c.created_at)).mappings())
    attempts = _attempt_rows(session, [r["id"] for r in rows])
    return [_run_info(r, attempts[r["id"]]) for r in rows]


def products_of(session: Session, lat_run_id: int | None) -> list[ProductInfo]:
    """Catalogued products (FT1, FT2, ...) of a LAT run; empty when the catalog is absent."""
    if lat_run_id is None:
        return []
    try:
        from fermi_l1.catalog.models import Dataset
    except ImportError:  # the catalog is not installed or not yet published
        return []
    if Dataset.__tablename__ not in set(inspect(session.get_bind()).get_table_names()):
        return []
    rows = session.scalars(select(Dataset).where(Dataset.run == lat_run_id).order_by(Dataset.data_type))
    return [ProductInfo(d.data_type, d.logical_path, d.version, d.file_path, d.checksum) for d in rows]


def state_counts(run_list: list[RunInfo]) -> dict[str, int]:
    """Number of runs in each state, every known state listed."""
    counts = Counter(r.state for r in run_list)
    return {s: counts.get(s, 0) for s in STATES}


def now_utc() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)
