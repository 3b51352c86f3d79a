"""Schema migrations of every package: the runner (:mod:`.runner`) and the ``db`` command (:mod:`.command`)."""

from fermi_core.migrations.runner import MigrationSpec

__all__ = ["MigrationSpec"]
