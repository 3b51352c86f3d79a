"""Merge the two EPU event streams of each run into one time-ordered stream."""

from fermi_halfpipe._version import __version__

__all__ = ["__version__"]
