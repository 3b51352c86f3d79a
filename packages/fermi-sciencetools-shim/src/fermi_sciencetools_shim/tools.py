"""Registry of the shim's ScienceTools-compatible tools: name -> parameters and Python function.

Each tool module exposes a module-level ``PARAMETERS`` list (par-file order) and a function
named like the tool (``gtselect``, ``gtmktime``, ``gtbin``, ``gtltcube``). Modules are
imported on first use, so asking for one tool does not import the others.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fermi_sciencetools_shim.errors import ParameterError
from fermi_sciencetools_shim.params import Parameter

_MODULES = {
    "gtselect": "fermi_sciencetools_shim.select.gtselect",
    "gtmktime": "fermi_sciencetools_shim.mktime.gtmktime",
    "gtbin": "fermi_sciencetools_shim.bin.gtbin",
    "gtltcube": "fermi_sciencetools_shim.ltcube.gtltcube",
}


@dataclass(frozen=True)
class Tool:
    """A loaded tool.

    Attributes
    ----------
    name
        Tool name (``gtselect`` ...).
    parameters
        Its parameters in par-file order.
    function
        The Python function doing the work (keyword arguments named as the parameters).
    main
        The command-line entry point ``main(argv) -> int``.
    """

    name: str
    parameters: Sequence[Parameter]
    function: Callable[..., Any]
    main: Callable[[Sequence[str] | None], int]


def tool_names() -> list[str]:
    """Return the names of the registered tools."""
    return list(_MODULES)


def get_tool(name: str) -> Tool:
    """Import and return the tool called ``name``.

    Raises
    ------
    ParameterError
        If no such tool is registered.
    """
    if name not in _MODULES:
        raise ParameterError("appName", f"unknown tool {name!r} (available: {', '.join(_MODULES)})")
    module = importlib.import_module(_MODULES[name])
    return Tool(name, tuple(module.PARAMETERS), getattr(module, name), module.main)
