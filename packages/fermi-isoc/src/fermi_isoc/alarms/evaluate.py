"""Evaluate alarm definitions against the current state."""

from __future__ import annotations

import fnmatch
import math
from dataclasses import replace
from datetime import datetime

import numpy as np

from fermi_isoc.alarms.acks import apply_acks
from fermi_isoc.alarms.config import AlarmSpec
from fermi_isoc.alarms.quantities import QUANTITIES, Item
from fermi_isoc.alarms.results import AlarmResult, Context, Severity

__all__ = ["AlarmResult", "Context", "Severity", "evaluate", "evaluate_one", "worst"]


def _classify(spec: AlarmSpec, value: float) -> Severity:
    if math.isnan(value):
        return Severity[spec.missing.upper()]
    if spec.algorithm == "upper":
        if spec.error is not None and value > spec.error:
            return Severity.ERROR
        if spec.warning is not None and value > spec.warning:
            return Severity.WARNING
    elif spec.algorithm == "lower":
        if spec.error is not None and value < spec.error:
            return Severity.ERROR
        if spec.warning is not None and value < spec.warning:
            return Severity.WARNING
    elif spec.algorithm == "range":
        (wl, wh), (el, eh) = spec.warning, spec.error
        if not el <= value <= eh:
            return Severity.ERROR
        if not wl <= value <= wh:
            return Severity.WARNING
    return Severity.OK


def _limits(spec: AlarmSpec) -> str:
    if spec.algorithm == "range":
        return f"warning outside {list(spec.warning)}, error outside {list(spec.error)}"
    if spec.algorithm == "always":
        return "always fires"
    op = ">" if spec.algorithm == "upper" else "<"
    parts = [
        f"{label} {op} {limit:g}"
        for label, limit in (("warning", spec.warning), ("error", spec.error))
        if limit is not None
    ]
    return ", ".join(parts)


def _reduce(spec: AlarmSpec, items: list[Item]) -> list[Item]:
    if spec.reduce == "each" or not items:
        return items
    values = np.array([i.value for i in items], dtype=np.float64)
    value = float({"mean": np.nanmean, "min": np.nanmin, "max": np.nanmax}[spec.reduce](values))
    return [
        Item(f"{spec.reduce} of {len(items)}", value, f"{spec.reduce} over the last {spec.window_hours:g} h")
    ]


def _excused(spec: AlarmSpec, key: str, now: datetime) -> str:
    for exc in spec.exceptions:
        if fnmatch.fnmatchcase(key, exc.key) and (exc.until is None or now < exc.until):
            return exc.reason
    return ""


def evaluate_one(spec: AlarmSpec, ctx: Context) -> list[AlarmResult]:
    """Results of one alarm: one per item (or one for the reduced value, or one 'no data').

    Every result carries the alarm's runbook page.
    """
    results = _results(spec, ctx)
    return [replace(r, runbook=spec.runbook) for r in results] if spec.runbook else results


def _results(spec: AlarmSpec, ctx: Context) -> list[AlarmResult]:
    items = _reduce(spec, QUANTITIES[spec.quantity](ctx, spec))
    if spec.algorithm == "always":
        return [
            AlarmResult(spec.name, spec.quantity, i.key, i.value, Severity.OK, True, i.detail) for i in items
        ]
    if not items:
        severity = Severity[spec.missing.upper()]
        return [
            AlarmResult(
                spec.name, spec.quantity, "", float("nan"), severity, severity > Severity.OK,
                f"no value of {spec.quantity}",
            )
        ]  # fmt: skip
    out = []
    for item in items:
        severity = _classify(spec, item.value)
        message = f"{spec.quantity} = {item.value:.6g} ({_limits(spec)})"
        if item.detail:
            message += f"; {item.detail}"
        excused = _excused(spec, item.key, ctx.now) if severity > Severity.OK else ""
        if excused:
            out.append(
                AlarmResult(
                    spec.name, spec.quantity, item.key, item.value, Severity.OK, False, message, excused
                )
            )
        else:
            out.append(
                AlarmResult(
                    spec.name, spec.quantity, item.key, item.value, severity, severity > Severity.OK, message
                )
            )
    return out


def evaluate(specs: list[AlarmSpec], ctx: Context) -> list[AlarmResult]:
    """Evaluate every alarm, in the order of the definitions, with acknowledgements applied.

    Acknowledgements whose item changed severity lapse in ``ctx.session`` (the caller commits).
    """
    return apply_acks(ctx.session, [r for spec in specs for r in evaluate_one(spec, ctx)], ctx.now)


def worst(results: list[AlarmResult]) -> Severity:
    """The highest severity among results that page (acknowledged ones do not; OK when none)."""
    return max((r.severity for r in results if not r.acknowledged), default=Severity.OK)
