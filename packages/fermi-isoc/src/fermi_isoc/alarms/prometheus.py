"""Alarm results in the Prometheus text exposition format (version 0.0.4)."""

from __future__ import annotations

import math
from datetime import datetime

from fermi_isoc.alarms.results import AlarmResult

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(r: AlarmResult) -> str:
    return f'alarm="{_escape(r.alarm)}",quantity="{_escape(r.quantity)}",key="{_escape(r.key)}"'


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def render(results: list[AlarmResult], now: datetime) -> str:
    """Return the metrics page: severity, firing flag and value of each alarm item."""
    lines = [
        "# HELP fermi_isoc_alarm_severity Alarm severity: 0 ok, 1 warning, 2 error.",
        "# TYPE fermi_isoc_alarm_severity gauge",
        *(f"fermi_isoc_alarm_severity{{{_labels(r)}}} {int(r.severity)}" for r in results),
        "# HELP fermi_isoc_alarm_firing 1 when the alarm fires and is not acknowledged (the watchdog always).",
        "# TYPE fermi_isoc_alarm_firing gauge",
        *(f"fermi_isoc_alarm_firing{{{_labels(r)}}} {int(r.firing and not r.acknowledged)}" for r in results),
        "# HELP fermi_isoc_alarm_acknowledged 1 when an operator acknowledged the alarm at its severity.",
        "# TYPE fermi_isoc_alarm_acknowledged gauge",
        *(f"fermi_isoc_alarm_acknowledged{{{_labels(r)}}} {int(bool(r.acknowledged))}" for r in results),
        "# HELP fermi_isoc_alarm_value Value of the watched quantity.",
        "# TYPE fermi_isoc_alarm_value gauge",
        *(f"fermi_isoc_alarm_value{{{_labels(r)}}} {_number(r.value)}" for r in results),
        "# HELP fermi_isoc_alarms_evaluated_timestamp_seconds When the alarms were evaluated (Unix time).",
        "# TYPE fermi_isoc_alarms_evaluated_timestamp_seconds gauge",
        f"fermi_isoc_alarms_evaluated_timestamp_seconds {now.timestamp():.3f}",
    ]
    return "\n".join(lines) + "\n"
