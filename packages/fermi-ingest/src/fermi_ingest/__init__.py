"""Level 0 ingest of LAT telemetry deliveries (registry, gaps, chunks, quarantine)."""

from fermi_ingest._version import __version__

__all__ = ["__version__"]
