"""Schema migrations of fermi-l1: data catalog and pipeline run state (Alembic; tooling in
:mod:`fermi_ingest.migrations.runner`)."""

from fermi_ingest.migrations.runner import MigrationSpec

SPEC = MigrationSpec(
    name="l1",
    distribution="fermi-l1",
    migrations="fermi_l1.migrations",
    models=("fermi_l1.catalog.models", "fermi_l1.pipeline.models"),
    table_prefixes=("l1_", "pipeline_"),
    depends=("ingest", "halfpipe"),
)
