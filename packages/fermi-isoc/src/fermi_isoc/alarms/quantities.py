"""The quantities alarms can watch: each maps a context to measured items ``(key, value, detail)``.

A quantity with no item at all (no delivery ever, no sample in the window) yields an empty list;
the alarm's ``missing`` setting decides what that means.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from astropy.time import Time
from sqlalchemy import select

from fermi_core.engine.states import State
from fermi_core.site import run_folder
from fermi_isoc import dataquality, queries
from fermi_isoc.models import MetricSample
from fermi_isoc.queries.ingest import _utc
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


def _hours_since(ctx: Context, t) -> float:
    t = _utc(t)
    return float("nan") if t is None else _hours(ctx.now - t)


def _age_or_inf(ctx: Context, t) -> float:
    """Hours since ``t``; infinite when unknown (the item must still fire)."""
    age = _hours_since(ctx, t)
    return float("inf") if math.isnan(age) else age


def _when(t) -> str:
    t = _utc(t)
    return "unknown" if t is None else f"{t:%Y-%m-%d %H:%M} UTC"


def held_run_age_hours(ctx: Context, spec: AlarmSpec) -> list[Item]:
    """Each run held back waiting for data: hours since its last data arrived.

    The halfpipe's ``held`` runs (data missing, deadline not reached; key ``r<run>``) and the
    task runs the engine holds (key ``<task>/<key>``, hours since they entered the state).
    """
    out = [
        Item(
            run_folder(r.run_id),
            _hours_since(ctx, r.last_data_utc),
            f"halfpipe run held: {r.held_events} of {r.n_events} events held back, last data "
            f"{_when(r.last_data_utc)}, due {_when(r.deadline_utc)}",
        )
        for r in queries.halfpipe_runs(ctx.session, ["held"], now=ctx.now)
    ]
    for r in runs(ctx.session, state=State.HELD.value, limit=None):
        since = r.updated_at or r.created_at
        if since is not None:
            out.append(Item(r.key, _hours(ctx.now - since), f"task run held since {_when(since)}"))
    return out


def overdue_run_hours(ctx: Context, spec: AlarmSpec) -> list[Item]:
    """Each halfpipe run past its deadline and not yet settled: hours past the deadline.

    A run is overdue only until the next ``fermi-halfpipe settle`` (every pipeline pass): one
    that stays overdue means the passes or the settle are not running.
    """
    out = []
    for r in queries.halfpipe_runs(ctx.session, ["overdue"], now=ctx.now):
        since = r.deadline_utc if r.deadline_utc is not None else r.last_data_utc
        out.append(
            Item(
                run_folder(r.run_id),
                max(0.0, _hours_since(ctx, since)),
                f"halfpipe run overdue since {_when(r.deadline_utc)}: {r.held_events} of {r.n_events} "
                f"events held, last data {_when(r.last_data_utc)}",
            )
        )
    return out


def rejected_run_hours(ctx: Context, spec: AlarmSpec) -> list[Item]:
    """Each halfpipe run rejected at its deadline (EPU rule) and not accepted: hours since its last data."""
    return [
        Item(
            run_folder(r.run_id),
            _age_or_inf(ctx, r.last_data_utc if r.last_data_utc is not None else r.deadline_utc),
            f"halfpipe run rejected: {r.reason or 'no reason recorded'}; {r.n_events} events, "
            f"last data {_when(r.last_data_utc)}",
        )
        for r in queries.halfpipe_runs(ctx.session, ["rejected"], now=ctx.now)
    ]


def failed_attempts(ctx: Context, spec: AlarmSpec) -> list[Item]:
    """Each task run not done nor cancelled: its failed or crashed attempts (over all runs, in SQL)."""
    return [
        Item(r.key, float(r.n_failed_attempts), f"task run state {r.state}, {r.n_attempts} attempts")
        for r in queries.failed_runs(ctx.session)
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

    if not queries.has_tables(ctx.session, "isoc_job"):
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


def run_quality_level(ctx: Context, spec: AlarmSpec) -> list[Item]:
    """Each run whose latest monitoring verdict is not good and that nobody signed off.

    The value is 2 for a ``bad`` verdict, 1 for a ``warning`` unsigned for longer than the alarm's
    ``window_hours`` (the time a shifter has to sign it off), 0 for a newer ``warning``. The
    detail names the failing checks (:mod:`fermi_isoc.dataquality`).
    """
    out = []
    for v in dataquality.verdicts(ctx.session):
        if v.verdict == "good" or v.signoff:
            continue
        failing = "; ".join(dataquality.check_text(c) for c in v.checks) or "no failing check recorded"
        if v.verdict == "bad":
            level, note = 2.0, "verdict bad"
        else:
            age = _age_or_inf(ctx, v.evaluated_at)
            level = 1.0 if age > spec.window_hours else 0.0
            note = f"verdict warning, not signed off for {age:.1f} h (sign-off due within {spec.window_hours:g} h)"
        out.append(Item(run_folder(v.run), level, f"run {v.run} v{v.version}: {note}; failing: {failing}"))
    return out


def config_mismatch_hours(ctx: Context, spec: AlarmSpec) -> list[Item]:
    """Each halfpipe run held for a configuration-key mismatch: hours since its last data.

    The detail carries the halfpipe's reason (naming the key in the data and the key the
    mission-planning table expects) and the keys recorded for the run.
    """
    out = []
    for r in dataquality.mismatched_runs(ctx.session, now=ctx.now):
        keys = dataquality.keys_text(getattr(r, "config_keys", None))
        out.append(
            Item(
                run_folder(r.run_id),
                _age_or_inf(ctx, r.last_data_utc),
                f"halfpipe run held: {r.reason or 'configuration key mismatch (no reason recorded)'}"
                + (f"; keys in the data: {keys}" if keys else "")
                + "; Level 1 does not take it until accepted",
            )
        )
    return out


def watchdog(ctx: Context, spec: AlarmSpec) -> list[Item]:
    """Always one item: the chain is alive."""
    return [Item("watchdog", 1.0, "always firing")]


QUANTITIES: dict[str, Callable[[Context, AlarmSpec], list[Item]]] = {
    "hours_since_last_delivery": hours_since_last_delivery,
    "open_gap_age_hours": open_gap_age_hours,
    "held_run_age_hours": held_run_age_hours,
    "overdue_run_hours": overdue_run_hours,
    "rejected_run_hours": rejected_run_hours,
    "failed_attempts": failed_attempts,
    "run_quality_level": run_quality_level,
    "config_mismatch_hours": config_mismatch_hours,
    "trigger_rate_hz": _samples("trigger_rate_hz"),
    "livetime_fraction": _samples("livetime_fraction"),
    "downlink_rate_bps": _samples("downlink_rate_bps"),
    "disk_used_fraction": disk_used_fraction,
    "job_overdue_periods": job_overdue_periods,
    "watchdog": watchdog,
}
