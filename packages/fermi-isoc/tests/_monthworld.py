"""A month of mission-rate history, built fast by bulk inserts through each package's models.

:func:`build_month` fills a fresh database (SQLite or PostgreSQL) with what 30 days of operations
leave behind: ≈ 450 LAT runs (15 a day), each with its halfpipe run (every state: complete,
incomplete, accepted, rejected, held, overdue), 44 task runs of the L1 chain (42 recon crumbs, run
input, L1 products: ≈ 20 k task runs and about as many attempts, most done, some crashed then
done, a few failed or crashed for good, the newest in flight), catalogued products, 8 deliveries a
day with their chunks and gaps (filled and open), trending samples and job records.

The generator keeps its own account of what it wrote (:class:`MonthWorld`): the tests compare what
the database aggregates with it. ``now`` is the wall time (the halfpipe decides held / overdue
against it); every time is relative to it.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from astropy.time import Time
from sqlalchemy import func, insert, select

import fermi_isoc.models  # noqa: F401  (registers isoc's tables)
from fermi_core.db import get_engine, session_scope
from fermi_core.engine.models import Task, TaskAttempt, TaskRun
from fermi_core.site import run_folder
from fermi_halfpipe import models as HM
from fermi_ingest.models import Chunk, Delivery, Gap
from fermi_isoc.models import JobRecord, MetricSample
from fermi_l1.catalog.models import Dataset
from fermi_sciencetools_shim.time import time_to_met

DAYS = 30
RUNS_PER_DAY = 15
DELIVERIES_PER_DAY = 8
CRUMBS = (2, 21)  # merged files x crumbs per file: 42 recon task runs per LAT run
FAILED_TRIES = ("failed", "crashed")


@dataclass
class MonthWorld:
    """What :func:`build_month` wrote, counted by the generator itself."""

    url: str
    now: datetime
    lat_runs: list[int] = field(default_factory=list)
    task_states: Counter = field(default_factory=Counter)
    n_attempts: int = 0
    #: task runs the failed-attempts alarm must name: ``task/key`` -> failed or crashed attempts
    failing: dict[str, int] = field(default_factory=dict)
    #: the oldest such task run (created on the first day)
    oldest_failing: str = ""
    halfpipe_states: Counter = field(default_factory=Counter)
    #: halfpipe runs by state -> hours since their last data (held, rejected) or past deadline (overdue)
    halfpipe_ages: dict[str, dict[int, float]] = field(default_factory=dict)
    n_deliveries: int = 0
    #: open gaps: key of the gap-not-filled item -> hours since the delivery that found it
    open_gaps: dict[str, float] = field(default_factory=dict)
    n_datasets: int = 0

    @property
    def n_task_runs(self) -> int:
        """Task runs written."""
        return sum(self.task_states.values())


def _met(t: datetime) -> float:
    return float(time_to_met(Time(t)))


def _insert(session, model, rows: list[dict]) -> list[int]:
    """Bulk insert ``rows``; return their ids in order."""
    if not rows:
        return []
    stmt = insert(model).returning(model.id, sort_by_parameter_order=True)
    return list(session.scalars(stmt, rows))


def _plan_halfpipe(i: int, n: int) -> str:
    """The halfpipe state of LAT run ``i`` of ``n`` (oldest first)."""
    if i >= n - 2:
        return "held"
    if i == n - 3:
        return "overdue"
    if i in (150, n - 6):
        return "rejected"
    if i == 100:
        return "accepted"
    if i % 25 == 7:
        return "incomplete"
    return "complete"


def build_month(url: str, *, now: datetime | None = None, days: int = DAYS, seed: int = 17) -> MonthWorld:
    """Fill the empty database ``url`` with ``days`` of history ending at ``now`` (default: the wall time).

    Parameters
    ----------
    url
        A fresh database (its tables are created here).
    now
        End of the history; the halfpipe's held / overdue states are decided against the wall
        time, so keep the default unless the test does not read them.
    days
        Length of the history (30: a month).
    seed
        Seed of the choices (attempt outcomes, durations).
    """
    rng = random.Random(seed)
    now = (now or datetime.now(timezone.utc)).replace(microsecond=0)
    world = MonthWorld(url, now)
    get_engine(url)  # every registered table
    start = now - timedelta(days=days)
    met0 = _met(start)
    n_runs = days * RUNS_PER_DAY
    run_dt = timedelta(days=days) / n_runs
    n_deliv = days * DELIVERIES_PER_DAY
    deliv_dt = timedelta(days=days) / n_deliv
    with session_scope(url) as s:
        # deliveries: one every 3 h, registered 30 min after its data
        deliv_rows = [
            dict(
                delivery_id=f"d{(start + k * deliv_dt):%y%m%d%H%M}{k:03d}", manifest_sha256=f"{k:064x}", scid=77,
                state="ingested", archive_dir=f"archive/d{k:04d}", n_files=3, n_bytes=30_000_000,
                n_packets=60_000, n_quarantined=0, quarantined_bytes=0,
                met_start=met0 + (k * deliv_dt).total_seconds(), met_stop=met0 + ((k + 1) * deliv_dt).total_seconds(),
                ingested_at=start + (k + 1) * deliv_dt + timedelta(minutes=30) - timedelta(hours=1),
            )
            for k in range(n_deliv)
        ]  # fmt: skip
        deliv_ids = _insert(s, Delivery, deliv_rows)
        world.n_deliveries = len(deliv_ids)
        s.execute(
            insert(HM.HalfpipeDelivery),
            [
                dict(delivery_id=d["delivery_id"], state="done", summary_path=f"halfpipe/{d['delivery_id']}.json",
                     summary_sha256="0" * 64)
                for d in deliv_rows
            ],
        )  # fmt: skip
        hp_deliv_last = s.scalar(select(func.max(HM.HalfpipeDelivery.id)))
        # gaps: one every 5 deliveries, filled by the next; two still open (30 h and 5 h old)
        gap_rows = []
        for k in range(0, n_deliv - 1, 5):
            gap_rows.append(
                _gap(deliv_ids[k], deliv_ids[k + 1], deliv_rows[k]["met_start"] + 100.0, "filled")
            )
        for age_h in (30.0, 5.0):
            k = next(
                j
                for j in range(n_deliv - 1, -1, -1)
                if now - deliv_rows[j]["ingested_at"] >= timedelta(hours=age_h)
            )
            g = _gap(deliv_ids[k], None, deliv_rows[k]["met_start"] + 200.0, "open", apid=957)
            gap_rows.append(g)
            found = deliv_rows[k]["ingested_at"]
            world.open_gaps[f"apid 957 MET {g['met_before']:.3f}-{g['met_after']:.3f}"] = (
                now - found
            ).total_seconds() / 3600.0
        s.execute(insert(Gap), gap_rows)

        # tasks of the L1 chain
        task_ids = dict(zip(("recon", "runinput", "l1run"),
                            _insert(s, Task, [dict(name=n, max_attempts=3) for n in ("recon", "runinput", "l1run")]),
                            strict=True))  # fmt: skip

        hp_rows, chunk_rows, plans, ds_rows = [], [], [], []
        for i in range(n_runs):
            t0 = start + i * run_dt
            run_id = int(met0 + (i * run_dt).total_seconds())
            world.lat_runs.append(run_id)
            k = min(int((t0 + run_dt - start) / deliv_dt), n_deliv - 1)
            for c in range(2):
                chunk_rows.append(
                    dict(
                        delivery_pk=deliv_ids[k], number=2 * i + c, run_id=run_id, apids="956,957",
                        met_start=run_id + c * 2800.0, met_stop=run_id + (c + 1) * 2800.0, n_packets=30_000,
                        n_datagrams=3_000, n_bytes=15_000_000, json_path=f"chunks/{i}.{c}.json",
                        xml_path=f"chunks/{i}.{c}.xml",
                    )
                )  # fmt: skip
            state = _plan_halfpipe(i, n_runs)
            hp_rows.append(_halfpipe_run(run_id, state, t0 + run_dt, now, hp_deliv_last, world, n_runs - i))
            world.halfpipe_states[state] += 1
            if state in ("held", "overdue", "rejected"):
                continue
            in_flight = i >= n_runs - 5  # the newest runs L1 takes are still being processed
            keys = [
                ("recon", f"{run_folder(run_id)}.c{c:04d}.k{j:03d}")
                for c in range(CRUMBS[0])
                for j in range(CRUMBS[1])
            ] + [("runinput", run_folder(run_id)), ("l1run", run_folder(run_id))]
            for n, (task, key) in enumerate(keys):
                created = t0 + run_dt + timedelta(minutes=40 + n // 10)
                attempts = _attempts(rng, i, n, task, in_flight, n_runs)
                if attempts and attempts[-1] == "running":
                    tr_state = "running"
                elif not attempts:
                    tr_state = "queued"
                else:
                    tr_state = attempts[-1]
                plans.append((task, key, tr_state, created, attempts))
                world.task_states[tr_state] += 1
                n_failed = sum(a in FAILED_TRIES for a in attempts)
                if tr_state not in ("done", "cancelled") and n_failed:
                    world.failing[f"{task}/{key}"] = n_failed
                    if not world.oldest_failing:
                        world.oldest_failing = f"{task}/{key}"
            if not in_flight:
                for dt in ("FT1", "FT2", "MERIT"):
                    ds_rows.append(
                        dict(
                            logical_path=f"/Data/Flight/Level1/LAT/{dt}/{run_folder(run_id)}", file_path=f"l1/{dt}",
                            data_type=dt, version=1, run=run_id, met_start=float(run_id), met_stop=run_id + 5600.0,
                            size=1_000_000, checksum="0" * 64, creator="fermi-l1", provenance="{}",
                            registered_at=t0 + run_dt + timedelta(hours=2), proc_ver=1, supersedes=None,
                            lost_events=0,
                        )
                    )  # fmt: skip
        s.execute(insert(Chunk), chunk_rows)
        s.execute(insert(HM.HalfpipeRun), hp_rows)
        run_ids = _insert(
            s,
            TaskRun,
            [
                dict(task_pk=task_ids[task], key=key, state=st, params="{}",
                     processing_date=f"{created:%Y-%m-%dT%H:%M:%S}", created_at=created,
                     updated_at=created + timedelta(minutes=5 * len(att)))
                for task, key, st, created, att in plans
            ],
        )  # fmt: skip
        att_rows = []
        for run_pk, (_task, key, _st, created, attempts) in zip(run_ids, plans, strict=True):
            for number, a_state in enumerate(attempts, 1):
                began = created + timedelta(minutes=5 * (number - 1), seconds=rng.randint(1, 90))
                att_rows.append(
                    dict(
                        run_pk=run_pk, number=number, state=a_state, executor="local", host="farm01", pid=1000 + number,
                        driver_host="driver", driver_pid=1, batch_id=None, exit_code=None if a_state == "running"
                        else (0 if a_state == "done" else 2), log_path=f"logs/{key}.attempt{number}.log",
                        error="" if a_state in ("done", "running") else "simulated failure", outputs=None,
                        submitted_at=began - timedelta(seconds=30), started_at=began,
                        ended_at=None if a_state == "running" else began + timedelta(seconds=rng.randint(60, 240)),
                        queue_wait=30.0,
                    )
                )  # fmt: skip
        s.execute(insert(TaskAttempt), att_rows)
        world.n_attempts = len(att_rows)
        s.execute(insert(Dataset), ds_rows)
        world.n_datasets = len(ds_rows)

        # trending samples every 10 min (normal values) and the jobs' records (all recent)
        samples = []
        for m in range(0, days * 24 * 6):
            met = met0 + m * 600.0
            samples.append(dict(quantity="trigger_rate_hz", key="", met=met, value=1850.0 + rng.uniform(-50, 50),
                                source="ft2"))  # fmt: skip
            samples.append(dict(quantity="livetime_fraction", key="", met=met, value=0.9, source="ft2"))
        s.execute(insert(MetricSample), samples)
        s.execute(
            insert(JobRecord),
            [
                dict(name="alarms", period_s=3600.0, owner="", started_at=now - timedelta(minutes=10),
                     last_success=now - timedelta(minutes=10), last_failure=None, last_error=""),
                dict(name="retention", period_s=86400.0, owner="", started_at=now - timedelta(hours=5),
                     last_success=now - timedelta(hours=5), last_failure=None, last_error=""),
            ],
        )  # fmt: skip
    return world


def _gap(found: int, filled: int | None, met: float, status: str, apid: int = 956) -> dict:
    return dict(
        apid=apid, kind="sequence", missing=5, seq_before=10, seq_after=16, met_before=met, met_after=met + 5.0,
        delivery_before_pk=found, delivery_after_pk=found, found_by_pk=found, status=status, filled_by_pk=filled,
    )  # fmt: skip


def _halfpipe_run(
    run_id: int, state: str, last_data: datetime, now: datetime, last_deliv: int, world: MonthWorld, rank: int
) -> dict:
    """A ``halfpipe_run`` row in ``state`` (``rank`` 1 the newest run); records the age the alarms will see."""
    status = {"held": HM.OPEN, "overdue": HM.OPEN}.get(state, state)
    deadline = last_data + timedelta(hours=12)
    last_deliv_pk = 1
    if state == "held":  # data 2 h (newest) or 5 h ago, the latest delivery brought it
        age = 2.0 if rank == 1 else 5.0
        last_data, deadline, last_deliv_pk = (
            now - timedelta(hours=age),
            now + timedelta(hours=12 - age),
            last_deliv,
        )
        world.halfpipe_ages.setdefault(state, {})[run_id] = age
    elif state == "overdue":  # deadline 3 h ago, no settle since
        last_data, deadline, last_deliv_pk = now - timedelta(hours=15), now - timedelta(hours=3), last_deliv
        world.halfpipe_ages.setdefault(state, {})[run_id] = 3.0
    elif state == "rejected":
        world.halfpipe_ages.setdefault(state, {})[run_id] = (now - last_data).total_seconds() / 3600.0
    return dict(
        run_id=run_id, status=status, reason="EPU rule: 3 EPUs" if state in ("rejected", "accepted") else "",
        revision=0 if status == HM.OPEN or state == "rejected" else 1,
        lost_events=120 if state == "incomplete" else 0, last_data_utc=last_data, last_data_delivery=last_deliv_pk,
        deadline_utc=deadline, deadline_deliveries=3, ground_id=run_id % 65536, n_delivered=120_000,
        n_held=30_000 if status == HM.OPEN else 0, n_late=0, n_duplicates=0, lock_owner="",
        retired_by="" if state != "accepted" else "operator",
    )  # fmt: skip


def _attempts(rng: random.Random, i: int, n: int, task: str, in_flight: bool, n_runs: int) -> list[str]:
    """The attempt states of task run ``n`` of LAT run ``i`` (oldest first)."""
    if in_flight:
        if task != "recon":
            return []  # run input and products wait for the crumbs
        return ["done"] if n < 20 else (["running"] if n < 28 else [])
    if i == 3 and n == 5:
        return ["crashed", "failed"]  # the oldest failure: bad input after a crash, never re-run
    if i == 200 and n == 11:
        return ["crashed", "crashed", "crashed", "crashed"]  # out of budget, re-run once, crashed again
    if i == n_runs - 20 and task == "runinput":
        return ["failed", "failed"]
    if rng.random() < 0.02:
        return ["crashed", "done"]  # a lost node, retried
    return ["done"]
