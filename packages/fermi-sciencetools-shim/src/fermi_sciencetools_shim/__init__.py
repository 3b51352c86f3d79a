"""ScienceTools-compatible Fermi LAT data preparation in pure Python.

Fermi time (:mod:`.time`), GTI algebra (:mod:`.gti`), FT1/FT2 I/O and the tools
``gtselect``, ``gtmktime``, ``gtbin`` and ``gtltcube``.
"""

from fermi_sciencetools_shim import jit  # noqa: F401  (sets the numba cache default first)
from fermi_sciencetools_shim._version import __version__

__all__ = ["__version__"]
