"""fermi-core: the foundation of the Fermi LAT ground software (no pipeline-stage code).

* :mod:`fermi_core.site` -- :class:`~fermi_core.site.Site`, every path of the data tree.
* :mod:`fermi_core.db` -- declarative base, engines, sessions, retried transactions.
* :mod:`fermi_core.migrations` -- the per-package schema-migration runner and ``db`` command.
* :mod:`fermi_core.atomic` -- the one atomic write / copy (one fsync policy).
* :mod:`fermi_core.checksum` -- the one SHA-256 of a file.
* :mod:`fermi_core.jit` -- numba settings (cache folder, ``njit`` with the cache policy).
* :mod:`fermi_core.errors` -- :class:`~fermi_core.errors.BadInput`, the base of every input error.
* :mod:`fermi_core.logs` -- stdlib logging setup, ``--verbose``/``--quiet``, context of log lines.
* :mod:`fermi_core.engine` -- the task engine (registry, task runs, attempts, executors).
* :mod:`fermi_core.mission` -- mission facts shared by several stages (APIDs, SAA, orbit).
"""

from fermi_core._version import __version__

__all__ = ["__version__"]
