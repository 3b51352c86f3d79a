"""Schema migrations of fermi-ingest (Alembic), and the shared tooling in :mod:`.runner`."""

from fermi_core.migrations.runner import MigrationSpec

SPEC = MigrationSpec(
    name="ingest",
    distribution="fermi-ingest",
    migrations="fermi_ingest.migrations",
    models=("fermi_ingest.models",),
    table_prefixes=("ingest_",),
)
