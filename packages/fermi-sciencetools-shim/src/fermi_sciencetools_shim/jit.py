"""Numba settings of the monorepo: the cache folder and ``njit`` with the cache policy.

A conda environment is read only, so numba cannot write its cache beside the
installed modules. When ``NUMBA_CACHE_DIR`` is not set, kernels compiled through
:func:`njit` cache in a per-user folder under the temporary directory (set on numba's
own configuration, :data:`numba.config.CACHE_DIR`; the environment is left alone). ``FERMI_NUMBA_CACHE=0`` disables on-disk
caching altogether (useful on farm nodes with a shared, slow home directory).
"""

from __future__ import annotations

import getpass
import os
import tempfile
from collections.abc import Callable
from typing import Any


def _default_cache_dir() -> str:
    try:
        user = getpass.getuser()
    except Exception:
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    return os.path.join(tempfile.gettempdir(), f"fermi-numba-cache-{user}")


def cache_enabled() -> bool:
    """Return whether kernels are compiled with ``cache=True``."""
    return os.environ.get("FERMI_NUMBA_CACHE", "1").strip().lower() not in {"0", "no", "false", "off"}


def cache_dir() -> str:
    """Where kernels cache: ``$NUMBA_CACHE_DIR``, or a per-user folder under the temporary directory."""
    return os.environ.get("NUMBA_CACHE_DIR", "").strip() or _default_cache_dir()


def njit(*args: Any, **kwargs: Any) -> Callable[..., Any]:
    """``numba.njit`` with the project's cache policy (``cache`` follows :func:`cache_enabled`).

    Use exactly like :func:`numba.njit`, with or without a signature.
    """
    import numba

    if not numba.config.CACHE_DIR:  # numba read the environment at import: fill in our default
        numba.config.CACHE_DIR = cache_dir()
    kwargs.setdefault("cache", cache_enabled())
    return numba.njit(*args, **kwargs)
