"""Backup and retention of raw deliveries: keep N days on disk, older ones only on the archive."""

from fermi_isoc.retention.core import (
    DEFAULT_KEEP_DAYS,
    Finding,
    MigrationResult,
    check,
    migrate,
    sha256_of,
)

__all__ = ["DEFAULT_KEEP_DAYS", "Finding", "MigrationResult", "check", "migrate", "sha256_of"]
