"""Backup and retention of raw deliveries (keep N days on disk, older ones only on the archive) and
of the intermediate outputs moved aside by re-runs."""

from fermi_isoc.retention.core import (
    DEFAULT_KEEP_DAYS,
    Finding,
    MigrationResult,
    check,
    migrate,
)
from fermi_isoc.retention.reruns import CleanResult, RerunFolder, clean_reruns, rerun_folders

__all__ = [
    "DEFAULT_KEEP_DAYS",
    "CleanResult",
    "Finding",
    "MigrationResult",
    "RerunFolder",
    "check",
    "clean_reruns",
    "migrate",
    "rerun_folders",
]
