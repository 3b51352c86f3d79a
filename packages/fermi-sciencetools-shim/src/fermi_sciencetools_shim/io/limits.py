"""The memory budget: refuse a product larger than it before allocating anything.

A typo such as ``binsz=0.0001`` or ``dcostheta=1e-7`` asks for arrays of hundreds of GiB;
numpy would then fail with a bare ``MemoryError`` (or the machine would swap). The tools
call :func:`check_allocation` with the size of what they are about to build and get a
:class:`~fermi_sciencetools_shim.errors.ParameterError` naming the parameter and the size.

The budget is ``$FERMI_SHIM_MEMORY_BUDGET`` (bytes, or a number with a ``K``/``M``/``G``/``T``
suffix, powers of 1024), else half of the machine's physical memory.
"""

from __future__ import annotations

import os
import re

from fermi_sciencetools_shim.errors import ParameterError

ENV_VAR = "FERMI_SHIM_MEMORY_BUDGET"
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_FALLBACK = 4 << 30


def parse_size(text: str) -> int:
    """Return the byte count of ``"512M"``, ``"2G"``, ``"1.5T"`` or ``"1000000"``.

    Raises
    ------
    ParameterError
        For text that is not a positive size.
    """
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?)(?:I?B)?\s*", str(text), re.IGNORECASE)
    if m is None or float(m.group(1)) <= 0:
        raise ParameterError(ENV_VAR, f"{text!r} is not a size such as 4G, 512M or 1000000")
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


def physical_memory() -> int | None:
    """Return the machine's physical memory in bytes, or None when unknown."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return None


def memory_budget() -> int:
    """Return the budget in bytes: ``$FERMI_SHIM_MEMORY_BUDGET``, else half the physical memory."""
    value = os.environ.get(ENV_VAR, "").strip()
    if value:
        return parse_size(value)
    total = physical_memory()
    return total // 2 if total else _FALLBACK


def format_size(nbytes: float) -> str:
    """Return ``nbytes`` in the largest binary unit below it (``"1.5 GiB"``)."""
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{int(nbytes)} bytes"


def check_allocation(nbytes: float, what: str, parameter: str, budget: int | None = None) -> None:
    """Refuse to build ``what`` when it needs more than the memory budget.

    Parameters
    ----------
    nbytes
        Bytes the product needs (a float, so that absurd sizes do not overflow).
    what
        Description of the product, e.g. ``"the counts cube of 100000 x 100000 x 1 pixels"``.
    parameter
        The parameter to change (named in the error).
    budget
        Budget in bytes (default :func:`memory_budget`).

    Raises
    ------
    ParameterError
        Naming ``parameter``, the size and the budget.
    """
    limit = memory_budget() if budget is None else budget
    if nbytes > limit:
        raise ParameterError(
            parameter,
            f"{what} needs {format_size(nbytes)}, more than the memory budget of {format_size(limit)} "
            f"(set {ENV_VAR} to change it)",
        )
