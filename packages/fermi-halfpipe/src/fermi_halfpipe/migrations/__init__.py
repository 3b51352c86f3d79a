"""Schema migrations of fermi-halfpipe (Alembic; tooling in :mod:`fermi_ingest.migrations.runner`)."""

from fermi_ingest.migrations.runner import MigrationSpec

SPEC = MigrationSpec(
    name="halfpipe",
    distribution="fermi-halfpipe",
    migrations="fermi_halfpipe.migrations",
    models=("fermi_halfpipe.models",),
    table_prefixes=("halfpipe_",),
    depends=("ingest",),
)
