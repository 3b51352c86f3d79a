"""``GtApp``: run the shim's tools from Python with the Fermitools ``GtApp`` interface.

Scripts written for the Fermitools (``from GtApp import GtApp`` or fermipy's ``gt_apps``)
run unchanged with the shim's tools::

    from fermi_sciencetools_shim.gtapp import GtApp
    select = GtApp("gtselect", "dataSubselector")
    select["infile"] = "ft1.fits"
    select["outfile"] = "out.fits"
    select["emin"] = 100
    print(select.command())
    select.run()

The tools run in-process (no subprocess, no par files). The module also defines the
``gt_apps`` instances ``filter``, ``maketime``, ``evtbin`` and ``expCube``.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from fermi_sciencetools_shim.errors import ParameterError
from fermi_sciencetools_shim.params import resolve, unquote
from fermi_sciencetools_shim.tools import Tool, get_tool

_BOOKKEEPING = frozenset({"chatter", "debug", "gui", "mode"})


def _format(value: Any) -> str:
    if value is None:
        return "INDEF"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    if text == "" or any(c.isspace() for c in text) or any(c in text for c in "\"'&|<>()"):
        return '"' + text.replace('"', '\\"') + '"'
    return text


class GtApp:
    """A ScienceTools application with its parameters (Fermitools ``GtApp`` interface).

    Parameters
    ----------
    appName
        Tool name: ``gtselect``, ``gtmktime``, ``gtbin`` or ``gtltcube``.
    package
        Accepted for compatibility (the ScienceTools package name) and ignored.
    raiseKeyErrors
        If true (default), setting or reading an unknown parameter raises ``KeyError``.
    """

    def __init__(self, appName: str, package: str | None = None, raiseKeyErrors: bool = True) -> None:
        self.appName = appName
        self.package = package
        self.raiseKeyErrors = raiseKeyErrors
        self._tool: Tool | None = None
        self._values: dict[str, Any] = {}

    @property
    def tool(self) -> Tool:
        """The registered tool (imported on first use)."""
        if self._tool is None:
            self._tool = get_tool(self.appName)
        return self._tool

    @property
    def pars(self) -> GtApp:
        """The parameter mapping (this object; kept for ``app.pars['emin']`` scripts)."""
        return self

    def _parameter(self, name: str):
        for p in self.tool.parameters:
            if p.name == name:
                return p
        raise KeyError(f"{self.appName}: unknown parameter {name!r}")

    def __getitem__(self, name: str) -> Any:
        try:
            p = self._parameter(name)
        except KeyError:
            if self.raiseKeyErrors:
                raise
            return None
        return self._values.get(name, p.default)

    def __setitem__(self, name: str, value: Any) -> None:
        try:
            p = self._parameter(name)
        except KeyError:
            if self.raiseKeyErrors:
                raise
            return
        self._values[name] = p.convert(unquote(value))

    def __contains__(self, name: object) -> bool:
        return any(p.name == name for p in self.tool.parameters)

    def keys(self) -> list[str]:
        """Parameter names in par-file order."""
        return [p.name for p in self.tool.parameters]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def values(self) -> dict[str, Any]:
        """Return every parameter's current value (defaults for those not set)."""
        return {name: self[name] for name in self.keys()}

    def command(self) -> str:
        """Return the equivalent command line (``gtselect infile=... outfile=... ...``)."""
        return " ".join([self.appName] + [f"{n}={_format(v)}" for n, v in self.values().items()])

    def run(self, print_command: bool = True, **pars: Any) -> Any:
        """Set ``pars``, then run the tool in-process and return what its function returns.

        Raises
        ------
        ParameterError
            For a required parameter left unset or a bad value.
        """
        for name, value in pars.items():
            self[name] = value
        given = {n: v for n, v in self._values.items()}
        values = resolve(self.tool.parameters, given)
        if print_command:
            print(self.command())
        function = self.tool.function
        signature = inspect.signature(function)
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values()):
            unused = [n for n in values if n not in signature.parameters]
            values = {n: v for n, v in values.items() if n in signature.parameters}
            # Console bookkeeping parameters may be dropped; a real setting must not be.
            ignored = [n for n in unused if n in given and n not in _BOOKKEEPING]
            if ignored:
                raise ParameterError(ignored[0], f"{self.appName} does not use it in this implementation")
        return function(**values)

    def __repr__(self) -> str:
        return f"GtApp({self.appName!r})"


# fermipy / ScienceTools ``gt_apps`` names.
filter = GtApp("gtselect", "dataSubselector")
maketime = GtApp("gtmktime", "dataSubselector")
evtbin = GtApp("gtbin", "evtbin")
expCube = GtApp("gtltcube", "Likelihood")
