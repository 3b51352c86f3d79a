"""Schema migrations of fermi-isoc: alarm acknowledgements, job records, trending samples, archive
copies (Alembic; tooling in :mod:`fermi_core.migrations.runner`)."""

from fermi_core.migrations.runner import MigrationSpec

SPEC = MigrationSpec(
    name="isoc",
    distribution="fermi-isoc",
    migrations="fermi_isoc.migrations",
    models=("fermi_isoc.models",),
    table_prefixes=("isoc_",),
    depends=("ingest", "l1", "engine"),  # isoc_0002 moved old re-run requests into the engine's table
)
