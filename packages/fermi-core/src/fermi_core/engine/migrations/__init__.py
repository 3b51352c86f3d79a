"""Schema migrations of the task engine's tables (Alembic; tooling in :mod:`fermi_core.migrations.runner`).

The tables keep the names they had when fermi-l1 owned them (``pipeline_task``, ``pipeline_run``,
``pipeline_attempt``, ``pipeline_rerun_request``, ``pipeline_rerun_target``). The initial
revision, ``engine_0001``, is their schema as fermi-l1 left it (``l1_0002``): in a database made
by an older fermi-l1 they exist without ``alembic_version_engine``, so ``fermi-core db upgrade``
stamps them at ``engine_0001`` (the runner's "tables predate migrations" rule) and upgrades
them, every row kept; in a fresh database ``engine_0001`` creates them.
"""

from fermi_core.migrations.runner import MigrationSpec

SPEC = MigrationSpec(
    name="engine",
    distribution="fermi-core",
    migrations="fermi_core.engine.migrations",
    models=("fermi_core.engine.models",),
    table_prefixes=("pipeline_",),
    depends=(),
)
