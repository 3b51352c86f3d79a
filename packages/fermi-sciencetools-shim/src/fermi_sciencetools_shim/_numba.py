"""Numba configuration shared by every kernel module of the monorepo.

A conda environment is read only, so numba cannot write its cache beside the
installed modules. When ``NUMBA_CACHE_DIR`` is not set we point it at a per-user
folder under the temporary directory. ``FERMI_NUMBA_CACHE=0`` disables on-disk
caching altogether (useful on farm nodes with a shared, slow home directory).

Import this module before :mod:`numba` is imported: numba reads the variable once.
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


os.environ.setdefault("NUMBA_CACHE_DIR", _default_cache_dir())


def njit(*args: Any, **kwargs: Any) -> Callable[..., Any]:
    """``numba.njit`` with the project's cache policy (``cache`` follows :func:`cache_enabled`).

    Use exactly like :func:`numba.njit`, with or without a signature.
    """
    import numba

    kwargs.setdefault("cache", cache_enabled())
    return numba.njit(*args, **kwargs)
