"""The parameter-file commands of the ScienceTools: ``pset``, ``pget``, ``plist``, ``punlearn``.

They act on the user's copy of a tool's ``.par`` file in the pfiles folder
(:mod:`.pfiles`)::

    pset gtselect evclass=128 zmax=90    # learned: the next gtselect uses them
    pget gtselect zmax                   # 90
    plist gtselect                       # every parameter, hidden ones in parentheses
    punlearn gtselect                    # back to the shipped defaults

Errors (unknown tool or parameter, a value of the wrong type or out of range) are one line
``<command>: error: <reason>`` with exit code 1.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

from fermi_sciencetools_shim import pfiles
from fermi_sciencetools_shim.errors import ParameterError, ShimError
from fermi_sciencetools_shim.params import Parameter, format_value, tool_parameters, unquote
from fermi_sciencetools_shim.parfile import ParFile


def plist_text(
    tool: str, parameters: Sequence[Parameter], values: Mapping[str, Any], source: str = ""
) -> str:
    """The ``plist`` listing: ``name = value`` and the prompt, hidden parameters in parentheses."""
    lines = [f"Parameters for {source or tool + '.par'}"]
    for p in parameters:
        text = format_value(p, values.get(p.name))
        left = f"{p.name} = {text}"
        if p.hidden:
            left = f"({left})"
        lines.append(f"  {left:<40} {p.prompt}")
    return "\n".join(lines) + "\n"


def _parfile_values(parfile: ParFile, parameters: Sequence[Parameter]) -> dict[str, Any]:
    values = {}
    for p in parameters:
        try:
            values[p.name] = p.parse(parfile[p.name].value)
        except (KeyError, ParameterError):
            values[p.name] = p.default
    return values


def _run(command: str, argv: Sequence[str] | None, action) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or any(a in ("-h", "--help") for a in args):
        print(__doc__.split("\n\n")[0].strip().replace("\n", " "))
        print(f"usage: {command} {_USAGE[command]}")
        return 0 if args else 1
    try:
        action(args)
    except ShimError as exc:
        print(f"{command}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    return 0


_USAGE = {
    "pset": "TOOL name=value [name=value ...]",
    "pget": "TOOL name [name ...]",
    "plist": "TOOL [TOOL ...]",
    "punlearn": "TOOL [TOOL ...]",
}


def pset(tool: str, assignments: Mapping[str, Any]) -> None:
    """Set parameters of ``tool`` in the user's pfiles copy (values converted and range-checked)."""
    parameters = {p.name: p for p in tool_parameters(tool)}
    parfile = pfiles.load_par(tool)
    for name, value in assignments.items():
        if name not in parameters:
            raise ParameterError(name, f"{tool} has no such parameter (known: {', '.join(parameters)})")
        p = parameters[name]
        parfile.set_value(name, format_value(p, p.convert(unquote(value))))
    pfiles.save_par(parfile)


def pget(tool: str, name: str) -> str:
    """Return the value text of ``tool``'s parameter ``name`` (learned, else the default)."""
    parfile = pfiles.load_par(tool)
    if name not in parfile:
        raise ParameterError(name, f"{tool} has no such parameter (known: {', '.join(parfile.names())})")
    return parfile[name].value


def main_pset(argv: Sequence[str] | None = None) -> int:
    """``pset TOOL name=value ...``; return the exit code."""

    def action(args: list[str]) -> None:
        tool, rest = args[0], args[1:]
        assignments = {}
        for token in rest:
            if "=" not in token:
                raise ParameterError(token, "expected name=value")
            name, value = token.split("=", 1)
            assignments[name.strip()] = value
        if not assignments:
            raise ParameterError("name=value", "nothing to set")
        pset(tool, assignments)

    return _run("pset", argv, action)


def main_pget(argv: Sequence[str] | None = None) -> int:
    """``pget TOOL name ...``: print each value on its own line; return the exit code."""

    def action(args: list[str]) -> None:
        if len(args) < 2:
            raise ParameterError("name", "give the parameter names to print")
        values = [pget(args[0], name) for name in args[1:]]
        print("\n".join(values))

    return _run("pget", argv, action)


def main_plist(argv: Sequence[str] | None = None) -> int:
    """``plist TOOL ...``: print the parameters and their current values; return the exit code."""

    def action(args: list[str]) -> None:
        for tool in args:
            parameters = tool_parameters(tool)
            parfile = pfiles.load_par(tool)
            print(plist_text(tool, parameters, _parfile_values(parfile, parameters), parfile.source), end="")

    return _run("plist", argv, action)


def main_punlearn(argv: Sequence[str] | None = None) -> int:
    """``punlearn TOOL ...``: forget the learned values; return the exit code."""

    def action(args: list[str]) -> None:
        for tool in args:
            pfiles.unlearn(tool)

    return _run("punlearn", argv, action)
