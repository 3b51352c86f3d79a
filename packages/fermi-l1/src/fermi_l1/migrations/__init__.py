"""Schema migrations of fermi-l1: the data catalog (Alembic; tooling in :mod:`fermi_core.migrations.runner`).

The task engine's ``pipeline_*`` tables, made by ``l1_0001``/``l1_0002`` before the engine moved
to fermi-core, are owned by fermi-core's spec ``engine`` now (kept with their names and rows).
"""

from fermi_core.migrations.runner import MigrationSpec

SPEC = MigrationSpec(
    name="l1",
    distribution="fermi-l1",
    migrations="fermi_l1.migrations",
    models=("fermi_l1.catalog.models", "fermi_l1.monitoring.models", "fermi_l1.quality.models"),
    table_prefixes=("l1_",),
    depends=("ingest", "halfpipe", "engine"),
)
