"""The quantities alarms can watch: each maps a context to measured items ``(key, value, detail)``.

A quantity with no item at all (no delivery ever, no sample in the window) yields an empty list;
the alarm's ``missing`` setting decides what that means.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from astropy.time import Time
from sqlalchemy import inspect, select

from fermi_core.engine.states import State
from fermi_isoc import queries
from fermi_isoc.models import MetricSample
from fermi_isoc.queries.pipeline import runs
from fermi_sciencetools_shim.time import time_to_met

if TYPE_CHECKING:  # pragma: no cover
    from fermi_isoc.alarms.config import AlarmSpec
    from fermi_isoc.alarms.results import Context


@dataclass(frozen=True)
class Item:
    """One measured value of a quantity: what it is about (key), the value, and a short note."""

    key: str
    value: float
    detail: str = ""


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600.0


def hours_since_last_delivery(ctx: Context, spec: AlarmSpec) -> list[Item]:
    """Dead man's switch: hours since the newest delivery was registered."""
    last = queries.last_delivery_time(ctx.session)
    if last is None:
        return []
    return [
        Item("last delivery", _hours(ctx.now - last), f"last delivery registered {last:%Y-%m-%d %H:%M} UTC")
    ]


def open_gap_age_hours(ctx: Context, spec: AlarmSpec) -> list[Item]:
    """Each open gap: hours since the delivery that found it."""
    return [
        Item(
            f"apid {g.apid} MET {g.met_before:.3f}-{g.met_after:.3f}",
            _hours(ctx.now - g.found_at),
            f"{g.kind} gap found by {g.found_by}, {g.missing} missing",
        )
        for g in queries.open_gaps(ctx.session)
    ]


def held_run_age_hours(ctx: Context, spec: AlarmSpec) -> list[Item]:
    """Each task run held back (waiting for data): hours since it entered the state."""
    out = []
    for r in runs(ctx.session, state=State.HELD.value):
        since = r.updated_at or r.created_at
        if since is not None:
            out.append(Item(r.key, _hours(ctx.now - since), f"held since {since:%Y-%m-%d %H:%M} UTC"))
    return out


def failed_attempts(ctx: Context, spec: AlarmSpec) -> list[Item]:
    """Each task run not done: its failed or crashed attempts."""
    return [
        Item(r.key, float(r.n_failed_attempts), f"task run state {r.state}, {r.n_attempts} attempts")
        for r in runs(ctx.session)
        if r.state not in (State.DONE, State.CANCELLED) and r.n_failed_attempts > 0
    ]


def _samples(quantity: str) -> Callable[[Context, AlarmSpec], list[Item]]:
    def measured(ctx: Context, spec: AlarmSpec) -> list[Item]:
        since = float(time_to_met_now(ctx) - spec.window_hours * 3600.0)
        rows = ctx.session.scalars(
            select(MetricSample)
            .where(MetricSample.quantity == quantity, MetricSample.met >= since)
            .order_by(MetricSample.met)
        )
        return [Item(s.key or quantity, s.value, s.source) for s in rows]

    measured.__doc__ = f"Samples of ``{quantity}`` recorded in the alarm's window (isoc_metric_sample)."
    return measured


def time_to_met_now(ctx: Context) -> float:
    """MET of the context's ``now``."""
    return float(time_to_met(Time(ctx.now)))


def disk_used_fraction(ctx: Context, spec: AlarmSpec) -> list[Item]:
    """Used fraction of each file system holding the listed paths (default: FERMI_HOME)."""
    paths = spec.paths or (str(ctx.fermi_home),)
    out = []
    for p in paths:
        try:
            usage = shutil.disk_usage(p)
        except OSError as exc:
            out.append(Item(p, float("nan"), f"cannot stat: {exc.strerror}"))
            continue
        out.append(
            Item(p, usage.used / usage.total, f"{usage.free / 1e9:.1f} GB free of {usage.total / 1e9:.1f} GB")
        )
    return out


def job_overdue_periods(ctx: Context, spec: AlarmSpec) -> list[Item]:
    """Each isoc job that ever started: time since its last success in units of its period.

    A job that never succeeded is infinitely overdue unless its first run is under way; a run past
    the job's timeout (runaway, or killed without cleanup) is named in the detail.
    """
    from fermi_isoc.jobs import JOBS, job_records

    if "isoc_job" not in set(inspect(ctx.session.get_bind()).get_table_names()):
        return []
    out = []
    for job in job_records(ctx.session):
        period_h = job.period_s / 3600.0
        if job.last_success is not None:
            value, detail = (
                _hours(ctx.now - job.last_success) / period_h,
                f"last success {job.last_success:%Y-%m-%d %H:%M} UTC",
            )
        elif job.owner and job.started_at is not None:
            value, detail = _hours(ctx.now - job.started_at) / period_h, "first run under way"
        else:
            value, detail = float("inf"), "never succeeded"
        detail += f", period {period_h:g} h"
        if job.owner and job.started_at is not None:
            detail += f"; running on {job.owner} since {job.started_at:%Y-%m-%d %H:%M} UTC"
            spec_ = JOBS.get(job.name)
            if spec_ is not None and ctx.now - job.started_at > spec_.timeout:
                detail += f" (past its timeout of {spec_.timeout})"
        if job.last_error and (
            job.last_success is None or (job.last_failure or job.last_success) > job.last_success
        ):
            detail += f"; last error: {job.last_error}"
        out.append(Item(job.name, value, detail))
    return out


def watchdog(ctx: Context, spec: AlarmSpec) -> list[Item]:
    """Always one item: the chain is alive."""
    return [Item("watchdog", 1.0, "always firing")]


QUANTITIES: dict[str, Callable[[Context, AlarmSpec], list[Item]]] = {
    "hours_since_last_delivery": hours_since_last_delivery,
    "open_gap_age_hours": open_gap_age_hours,
    "held_run_age_hours": held_run_age_hours,
    "failed_attempts": failed_attempts,
    "trigger_rate_hz": _samples("trigger_rate_hz"),
    "livetime_fraction": _samples("livetime_fraction"),
    "downlink_rate_bps": _samples("downlink_rate_bps"),
    "disk_used_fraction": disk_used_fraction,
    "job_overdue_periods": job_overdue_periods,
    "watchdog": watchdog,
}
