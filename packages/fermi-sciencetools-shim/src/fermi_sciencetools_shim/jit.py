"""Numba settings of the monorepo: the cache folder and ``njit`` with the cache policy.

A conda environment is read only, so numba cannot write its cache beside the
installed modules. When ``NUMBA_CACHE_DIR`` is not set, kernels compiled through
:func:`njit` cache in a per-user folder under the temporary directory (set on numba's
own configuration, :data:`numba.config.CACHE_DIR`; the environment is left alone). ``FERMI_NUMBA_CACHE=0`` disables on-disk
caching altogether (useful on farm nodes with a shared, slow home directory).

Compile log (opt in): when ``FERMI_JIT_LOG`` names a directory, the first :func:`njit` call of a
process registers a listener on numba's ``numba:compile`` event (which fires only when a kernel is
compiled, not when it is loaded from the cache). At the end of each outermost compilation (a
kernel's callees compiled on the way are part of it) one line
``<pid>\t<module.qualname>\t<signature>\t<seconds>`` is appended to ``<dir>/jit-<pid>.tsv``.
The file is opened, written and closed for every line, so nothing is lost when a pool worker
leaves with :func:`os._exit`. An empty log means every kernel the process used came from the cache.
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


_JIT_LOG_PID: int | None = None  # the process whose compile listener is registered


def _compile_listener(folder: str) -> Any:
    """A ``numba:compile`` listener appending each outermost compilation's seconds to ``folder``."""
    import time

    from numba.core import event

    class CompileLog(event.Listener):
        def __init__(self) -> None:
            self._depth = 0
            self._t0 = 0.0

        def on_start(self, ev: event.Event) -> None:
            if self._depth == 0:
                self._t0 = time.perf_counter()
            self._depth += 1

        def on_end(self, ev: event.Event) -> None:
            self._depth -= 1
            if self._depth:
                return
            seconds = time.perf_counter() - self._t0
            data = ev.data or {}
            dispatcher = data.get("dispatcher")
            py_func = getattr(dispatcher, "py_func", None)
            name = f"{py_func.__module__}.{py_func.__qualname__}" if py_func is not None else str(dispatcher)
            sig = "(" + ", ".join(str(a) for a in data.get("args", ())) + ")"
            pid = os.getpid()
            try:
                os.makedirs(folder, exist_ok=True)
                with open(os.path.join(folder, f"jit-{pid}.tsv"), "a", encoding="utf-8") as fh:
                    fh.write(f"{pid}\t{name}\t{sig}\t{seconds:.4f}\n")
                    fh.flush()
            except OSError:
                pass  # a log must never break a kernel

    return CompileLog()


def _register_compile_log() -> None:
    """Register the compile log listener once per process when ``FERMI_JIT_LOG`` is set."""
    global _JIT_LOG_PID
    folder = os.environ.get("FERMI_JIT_LOG", "").strip()
    if not folder or _JIT_LOG_PID is not None:
        return  # a forked worker inherits the registered listener (it writes under its own pid)
    from numba.core import event

    event.register("numba:compile", _compile_listener(folder))
    _JIT_LOG_PID = os.getpid()


def njit(*args: Any, **kwargs: Any) -> Callable[..., Any]:
    """``numba.njit`` with the project's cache policy (``cache`` follows :func:`cache_enabled`).

    Use exactly like :func:`numba.njit`, with or without a signature.
    """
    import numba

    if not numba.config.CACHE_DIR:  # numba read the environment at import: fill in our default
        numba.config.CACHE_DIR = cache_dir()
    _register_compile_log()
    kwargs.setdefault("cache", cache_enabled())
    return numba.njit(*args, **kwargs)
