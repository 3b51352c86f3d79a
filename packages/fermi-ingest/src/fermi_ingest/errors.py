"""Exceptions of fermi-ingest; each message names the delivery, file or parameter at fault."""

from __future__ import annotations

from fermi_core.errors import BadInput


class IngestError(BadInput):
    """An error a user can act on, printed as one line by the command."""


class ManifestError(IngestError):
    """The delivery's manifest is missing, malformed, or does not match the files (names the file)."""


class DeliveryConflict(IngestError):
    """A delivery id already registered with a different content."""
