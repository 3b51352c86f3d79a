"""Declarative alarms: quantity -> algorithm -> warning/error limits, with known exceptions."""

from fermi_isoc.alarms.config import AlarmConfigError, AlarmSpec, load_alarms, parse_alarms
from fermi_isoc.alarms.evaluate import AlarmResult, Context, Severity, evaluate, worst

__all__ = [
    "AlarmConfigError",
    "AlarmResult",
    "AlarmSpec",
    "Context",
    "Severity",
    "evaluate",
    "load_alarms",
    "parse_alarms",
    "worst",
]
