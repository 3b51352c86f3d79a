"""Instrument operations: status page, alarms, retention, planning, trending."""

from fermi_isoc._version import __version__

__all__ = ["__version__"]
