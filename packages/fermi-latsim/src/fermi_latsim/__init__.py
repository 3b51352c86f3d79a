"""Simulate LAT telemetry deliveries (orbit, attitude, sky, detector, faults)."""

from fermi_latsim._version import __version__

__all__ = ["__version__"]
