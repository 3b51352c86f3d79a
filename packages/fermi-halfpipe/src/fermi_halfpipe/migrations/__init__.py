"""Schema migrations of fermi-halfpipe (Alembic; tooling in :mod:`fermi_core.migrations.runner`)."""

from fermi_core.migrations.runner import MigrationSpec

SPEC = MigrationSpec(
    name="halfpipe",
    distribution="fermi-halfpipe",
    migrations="fermi_halfpipe.migrations",
    models=("fermi_halfpipe.models",),
    table_prefixes=("halfpipe_",),
    depends=("ingest",),
)
