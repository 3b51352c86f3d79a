"""Numba settings of the monorepo (re-exported from :mod:`fermi_sciencetools_shim.jit`).

The definition lives in the shim, which is installable alone and has kernels of its own; every
other package imports it from here..
"""

from fermi_sciencetools_shim.jit import cache_dir, cache_enabled, njit

__all__ = ["cache_dir", "cache_enabled", "njit"]
