"""ScienceTools (``.par`` file) parameter handling for the shim's tools.

A tool declares its parameters as a list of :class:`Parameter` in par-file order.
Command lines use the ScienceTools syntax ``gtselect infile=a.fits outfile=b.fits ra=83.6``
(positional values are also accepted in par-file order); ``INDEF`` and ``yes``/``no``
are understood. Python callers pass keyword arguments to :func:`resolve`.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fermi_sciencetools_shim.errors import ParameterError, ShimError

INDEF = None
_TRUE = {"yes", "y", "true", "t", "1"}
_FALSE = {"no", "n", "false", "f", "0"}


@dataclass(frozen=True)
class Parameter:
    """One tool parameter as in a ScienceTools par file.

    Parameters
    ----------
    name
        Parameter name (``infile``, ``emin`` ...).
    kind
        ``"s"`` string/file, ``"r"`` real, ``"i"`` integer, ``"b"`` boolean.
    default
        Default value; ``None`` means ``INDEF`` (for ``"r"``/``"i"``) or required (``"s"``).
    prompt
        One-line description shown by ``--help``.
    hidden
        Hidden parameters (par mode ``h``) are optional on the command line.
    choices
        Allowed values (strings compared case-insensitively), if any.
    """

    name: str
    kind: str
    default: Any
    prompt: str
    hidden: bool = False
    choices: tuple[str, ...] = field(default=())

    def convert(self, value: Any) -> Any:
        """Convert a command-line or Python value to this parameter's type."""
        if value is None:
            return None
        if isinstance(value, str):
            text = value.strip()
            if self.kind in "ri" and text.upper() == "INDEF":
                return None
        else:
            text = None
        try:
            if self.kind == "r":
                out: Any = float(text if text is not None else value)
                if math.isnan(out):
                    raise ValueError("NaN")
            elif self.kind == "i":
                number = float(text if text is not None else value)
                if number != int(number):
                    raise ValueError("not an integer")
                out = int(number)
            elif self.kind == "b":
                if isinstance(value, bool):
                    out = value
                elif text is not None and text.lower() in _TRUE | _FALSE:
                    out = text.lower() in _TRUE
                else:
                    raise ValueError("expected yes or no")
            else:
                out = text if text is not None else str(value)
        except (TypeError, ValueError) as exc:
            raise ParameterError(
                self.name, f"cannot read {value!r} as {_KIND_NAMES[self.kind]} ({exc})"
            ) from None
        if self.choices and isinstance(out, str) and out.upper() not in {c.upper() for c in self.choices}:
            raise ParameterError(self.name, f"{out!r} is not one of {', '.join(self.choices)}")
        return out


_KIND_NAMES = {"s": "a string", "r": "a real number", "i": "an integer", "b": "a boolean"}


def parse_command_line(argv: Sequence[str], parameters: Sequence[Parameter]) -> dict[str, str]:
    """Split ``argv`` into ``{name: raw value}`` using ``name=value`` or positional order.

    Raises
    ------
    ParameterError
        For an unknown parameter name or too many positional values.
    """
    names = [p.name for p in parameters]
    positional = [p.name for p in parameters if not p.hidden]
    raw: dict[str, str] = {}
    next_pos = 0
    for token in argv:
        if "=" in token:
            name, value = token.split("=", 1)
            name = name.strip()
            if name not in names:
                raise ParameterError(name, f"unknown parameter (known: {', '.join(names)})")
            raw[name] = unquote(value)
        else:
            while next_pos < len(positional) and positional[next_pos] in raw:
                next_pos += 1
            if next_pos >= len(positional):
                raise ParameterError(token, "too many positional values")
            raw[positional[next_pos]] = unquote(token)
            next_pos += 1
    return raw


def unquote(value: Any) -> Any:
    """Strip one pair of matching quotes from a string, as in fermipy's ``algorithm="ccube"``."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def resolve(parameters: Sequence[Parameter], given: Mapping[str, Any]) -> dict[str, Any]:
    """Return every parameter's value: ``given`` converted, the rest from the defaults.

    Raises
    ------
    ParameterError
        For an unknown name, a value of the wrong type, or a required string left unset.
    """
    by_name = {p.name: p for p in parameters}
    for name in given:
        if name not in by_name:
            raise ParameterError(name, f"unknown parameter (known: {', '.join(by_name)})")
    values: dict[str, Any] = {}
    for p in parameters:
        value = p.convert(given[p.name]) if p.name in given else p.default
        if p.kind == "s" and value is None:
            raise ParameterError(p.name, "is required")
        values[p.name] = value
    return values


def format_help(tool: str, summary: str, parameters: Sequence[Parameter]) -> str:
    """Return the ``--help`` text of a tool: usage line and the parameter table."""
    lines = [f"usage: {tool} name=value ...", "", summary, "", "parameters (par-file order; (h) = hidden):"]
    for p in parameters:
        default = "INDEF" if p.default is None and p.kind in "ri" else p.default
        if p.kind == "b" and isinstance(default, bool):
            default = "yes" if default else "no"
        flag = "(h)" if p.hidden else "   "
        shown = "" if default is None else f" [{default}]"
        lines.append(f"  {flag} {p.name:<18} {p.prompt}{shown}")
    return "\n".join(lines) + "\n"


def run_command(
    tool: str,
    summary: str,
    parameters: Sequence[Parameter],
    function: Callable[..., object],
    argv: Sequence[str] | None,
    describe: Callable[[object], str] | None = None,
) -> int:
    """Run a tool from its command line and return the exit code.

    ``--help`` prints the parameter table. Errors a user can act on
    (:class:`ShimError`, an existing output with ``clobber=no``) are printed as one
    line ``<tool>: error: <message>`` and give exit code 1. With ``chatter > 0``,
    ``describe(result)`` is printed after a successful run.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in args):
        print(format_help(tool, summary, parameters), end="")
        return 0
    try:
        pars = resolve(parameters, parse_command_line(args, parameters))
        result = function(**pars)
    except (ShimError, FileExistsError) as exc:
        print(f"{tool}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    if describe is not None and (pars.get("chatter") or 0) > 0:
        print(f"{tool}: {describe(result)}")
    return 0
