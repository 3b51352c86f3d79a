"""Export of products to the FSSC outbox (files + manifest, atomic, idempotent)."""

from fermi_l1.export.outbox import MANIFEST, ExportError, ExportResult, export

__all__ = ["MANIFEST", "ExportError", "ExportResult", "export"]
