"""A month of mission-rate history (:mod:`._monthworld`): counts, pages and alarms over ALL runs.

≈ 450 LAT runs, ≈ 20 k task runs and attempts, halfpipe runs in every state, deliveries and gaps,
on SQLite and PostgreSQL. The database's aggregates must equal the generator's own account, and
a failed run of the first day must still be counted and alarmed on after 600 newer done runs
(the page and the alarms once saw only the newest 500). Timings are printed by ci/bench_ops.py.
"""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from fermi_core.db import get_engine
from fermi_core.engine.models import Task, TaskAttempt, TaskRun
from fermi_core.site import run_folder
from fermi_isoc import queries
from fermi_isoc.alarms import Context, Severity, evaluate, load_alarms, worst

from ._monthworld import MonthWorld, build_month


@pytest.fixture
def month(db_url) -> MonthWorld:
    return build_month(db_url)


def _severity(spec, value: float) -> Severity:
    """What an ``upper`` alarm gives ``value`` (the default limits of the run and step alarms)."""
    assert spec.algorithm == "upper"
    if math.isnan(value):
        return Severity[spec.missing.upper()]
    if spec.error is not None and value > spec.error:
        return Severity.ERROR
    if spec.warning is not None and value > spec.warning:
        return Severity.WARNING
    return Severity.OK


def _results(world: MonthWorld) -> tuple[dict, dict]:
    specs = {s.name: s for s in load_alarms()}
    with Session(get_engine(world.url)) as s:
        results = evaluate(list(specs.values()), Context(s, now=world.now))
        s.commit()
    return specs, results


def _items(results, alarm: str) -> dict[str, Severity]:
    return {r.key: r.severity for r in results if r.alarm == alarm}


def test_counts_over_all_runs_and_pages(month):
    # a month at mission rate
    assert len(month.lat_runs) == 450
    assert 19_000 <= month.n_task_runs <= 21_000 and 19_000 <= month.n_attempts <= 21_000
    assert set(month.halfpipe_states) == {"held", "overdue", "complete", "incomplete", "rejected", "accepted"}
    with Session(get_engine(month.url)) as s:
        counts = queries.state_counts(s)
        assert {k: v for k, v in counts.items() if v} == dict(month.task_states)
        assert queries.count_runs(s) == month.n_task_runs
        assert queries.count_runs(s, "failed") == month.task_states["failed"]
        not_taken = sum(month.halfpipe_states[k] for k in ("held", "overdue", "rejected"))
        assert queries.count_runs(s, task="l1run") == len(month.lat_runs) - not_taken
        hp = queries.halfpipe_state_counts(s, now=month.now)
        assert hp == {state: month.halfpipe_states.get(state, 0) for state in hp}
        # pages: disjoint, in order, the totals counted by the database
        first, second = queries.runs_page(s, limit=50), queries.runs_page(s, limit=50, offset=50)
        assert first.total == second.total == month.n_task_runs and first.has_next and not first.has_previous
        assert len(first.items) == len(second.items) == 50
        assert not {r.key for r in first.items} & {r.key for r in second.items}
        assert first.items[0].created_at >= first.items[-1].created_at >= second.items[0].created_at
        last = queries.runs_page(s, limit=50, offset=month.n_task_runs - 10)
        assert len(last.items) == 10 and not last.has_next
        failed = queries.runs_page(s, "failed")
        assert failed.total == month.task_states["failed"] == len(failed.items)
        deliveries = queries.deliveries_page(s, limit=20, offset=220)
        assert deliveries.total == month.n_deliveries and len(deliveries.items) == 20
        assert queries.count_open_gaps(s) == len(month.open_gaps)
        held = queries.halfpipe_runs_page(s, ["held", "overdue"], now=month.now)
        assert (
            held.total == month.halfpipe_states["held"] + month.halfpipe_states["overdue"] == len(held.items)
        )
        # a LAT run's task runs (its 42 crumbs, run input and products), found in SQL
        some_run = month.lat_runs[10]
        assert len(queries.runs_of_delivery(s, "", [some_run])) == 44
        assert {r.run_id for r in queries.runs_of_delivery(s, "", [some_run])} == {some_run}


def test_alarms_at_month_scale_and_after_600_newer_done_runs(month):
    specs, results = _results(month)
    failing = _items(results, "failed-attempts")
    assert month.oldest_failing in failing  # created on the first day, 19 000 task runs ago
    assert failing == {k: _severity(specs["failed-attempts"], n) for k, n in month.failing.items()}
    hp = month.halfpipe_ages
    for alarm, state in (("run-held-back", "held"), ("run-overdue", "overdue"), ("run-rejected", "rejected")):
        got = _items(results, alarm)
        want = {run_folder(r): _severity(specs[alarm], age) for r, age in hp[state].items()}
        assert got == want, alarm
    assert _items(results, "gap-not-filled") == {
        k: _severity(specs["gap-not-filled"], age) for k, age in month.open_gaps.items()
    }
    assert _items(results, "dead-mans-switch") == {"last delivery": Severity.OK}
    assert _items(results, "job-watchdog") == {"alarms": Severity.OK, "retention": Severity.OK}
    assert _items(results, "trigger-rate")["mean of 144"] == Severity.OK
    assert worst(results) == Severity.ERROR  # the run rejected 20 days ago, the step crashed 4 times

    # 600 newer done task runs: the failed ones are still counted and alarmed on
    with Session(get_engine(month.url)) as s, s.begin():
        task = s.scalar(select(Task.id).where(Task.name == "recon"))
        newest = s.scalar(select(func.max(TaskRun.created_at)))
        ids = list(
            s.scalars(
                insert(TaskRun).returning(TaskRun.id, sort_by_parameter_order=True),
                [
                    dict(task_pk=task, key=f"r0999999999.c0000.k{j:03d}", state="done", params="{}",
                         processing_date="2026-01-01T00:00:00", created_at=newest + timedelta(minutes=j + 1),
                         updated_at=newest + timedelta(minutes=j + 2))
                    for j in range(600)
                ],
            )
        )  # fmt: skip
        s.execute(
            insert(TaskAttempt),
            [
                dict(
                    run_pk=pk,
                    number=1,
                    state="done",
                    executor="local",
                    driver_host="d",
                    driver_pid=1,
                    exit_code=0,
                )
                for pk in ids
            ],
        )
    with Session(get_engine(month.url)) as s:
        counts = queries.state_counts(s)
        assert counts["failed"] == month.task_states["failed"] >= 1
        assert counts["done"] == month.task_states["done"] + 600
        newest_page = queries.runs_page(s, limit=500)
        assert all(r.state == "done" for r in newest_page.items)  # the failed run is far beyond them
    _specs, results = _results(month)
    assert _items(results, "failed-attempts") == failing
