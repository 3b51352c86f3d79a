"""ScienceTools parameter handling for the shim's tools (hoops/PIL/ape semantics).

Each tool's parameters are defined once, by the ``.par`` file shipped with the shim
(:mod:`.parfile`); :func:`tool_parameters` turns it into a list of :class:`Parameter` in
par-file order. Command lines use the ScienceTools syntax ``gtselect infile=a.fits
outfile=b.fits ra=83.6`` (positional values fill the non-hidden parameters in order);
``INDEF`` and ``yes``/``no`` are understood; values are checked against the par file's
range (``min``/``max`` or ``A|B|C``) with the messages of the ScienceTools' parameter library.

A command (:func:`run_command`) also behaves like the Fermitools at the prompt: learned
values come from the user's pfiles folder (:mod:`.pfiles`), the parameters the tool queries
(:mod:`.queries`) are prompted for on a terminal unless given on the command line or
``mode=h``, and the values of learned (``a``-mode with ``mode=ql``) parameters are saved.
Python callers pass keyword arguments to :func:`resolve` (no prompting, no learning).
"""

from __future__ import annotations

import inspect
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fermi_sciencetools_shim.errors import ParameterError, ShimError
from fermi_sciencetools_shim.parfile import ParEntry, ParFile, system_par
from fermi_sciencetools_shim.queries import UNCHECKED

INDEF = None
_TRUE = {"yes", "y", "true", "t", "1"}
_FALSE = {"no", "n", "false", "f", "0"}
_TYPE_NAMES = {"s": "string", "r": "floating point", "i": "integer", "b": "boolean"}
_MODES = {"a", "al", "h", "hl", "q", "ql"}
# Accepted by every tool and needing no behaviour of the tool function (console bookkeeping;
# ``gtifile`` is gtmktime's temporary GTI file, which the shim does not need).
BOOKKEEPING = frozenset({"chatter", "debug", "gui", "mode", "gtifile"})


@dataclass(frozen=True)
class Parameter:
    """One tool parameter, as a line of a ScienceTools ``.par`` file defines it.

    Parameters
    ----------
    name
        Parameter name (``infile``, ``emin`` ...).
    kind
        ``"s"`` string/file, ``"r"`` real, ``"i"`` integer, ``"b"`` boolean.
    default
        Default value; ``None`` means ``INDEF`` (``"r"``/``"i"``) or required (``"s"``).
    prompt
        The par file's prompt (shown at the prompt and by ``--help``).
    hidden
        Hidden parameters (mode ``h``) are never prompted for.
    choices
        Allowed values (compared case-insensitively; the value becomes the listed spelling).
    minimum, maximum
        Range bounds as the par file writes them (``""`` = none).
    mode
        The par-file mode (``a``, ``h``, ``q``, optionally with ``l``).
    ptype
        The par-file type (``f`` for file names, ``s``, ``r`` ...).
    checked
        Whether the range is enforced (the real tool queries the parameter).
    """

    name: str
    kind: str
    default: Any
    prompt: str
    hidden: bool = False
    choices: tuple[str, ...] = field(default=())
    minimum: str = ""
    maximum: str = ""
    mode: str = ""
    ptype: str = ""
    checked: bool = True

    def convert(self, value: Any) -> Any:
        """Convert a command-line or Python value to this parameter's type, then check its range.

        Raises
        ------
        ParameterError
            With the content of the ScienceTools' message (``cannot convert value "x"
            cleanly to floating point type``, ``value 400 is greater than maximum value 360``).
        """
        return self.check(self.parse(value))

    def parse(self, value: Any) -> Any:
        """Convert ``value`` to this parameter's type (no range check); ``None`` = INDEF."""
        if value is None:
            return None
        text = value.strip() if isinstance(value, str) else None
        if text is not None and self.kind in "ri" and text.upper() in ("INDEF", ""):
            return None
        type_name = _TYPE_NAMES[self.kind]
        try:
            if self.kind == "r":
                if isinstance(value, bool):
                    raise ValueError
                out: Any = float(text if text is not None else value)
                if math.isnan(out):
                    raise ValueError
            elif self.kind == "i":
                if isinstance(value, bool):
                    raise ValueError
                number = float(text if text is not None else value)
                if not math.isfinite(number):
                    raise ValueError
                if number != int(number):
                    raise ParameterError(
                        self.name, f'trailing text in value "{value}"; cannot convert to {type_name} type'
                    )
                out = int(number)
            elif self.kind == "b":
                if isinstance(value, bool):
                    out = value
                elif text is not None and text.lower() in _TRUE | _FALSE:
                    out = text.lower() in _TRUE
                else:
                    raise ValueError
            else:
                out = text if text is not None else str(value)
                if out == "" and self.ptype.startswith("f"):
                    out = None
        except (TypeError, ValueError, OverflowError) as exc:
            if isinstance(exc, ParameterError):
                raise
            raise ParameterError(
                self.name, f'cannot convert value "{value}" cleanly to {type_name} type'
            ) from None
        return out

    def check(self, value: Any) -> Any:
        """Check an already converted value against the range; return it (choices canonicalized)."""
        if value is None or not self.checked:
            return value
        if self.choices:
            if isinstance(value, str):
                for choice in self.choices:
                    if choice.upper() == value.upper():
                        return choice
                raise ParameterError(
                    self.name, f'invalid choice "{value}"; choose from "{"|".join(self.choices)}"'
                )
            return value
        if self.kind in "ri":
            if self.minimum and _compare(value, float(self.minimum)) < 0:
                raise ParameterError(
                    self.name, f"value {_number(value)} is less than minimum value {self.minimum}"
                )
            if self.maximum and _compare(value, float(self.maximum)) > 0:
                raise ParameterError(
                    self.name, f"value {_number(value)} is greater than maximum value {self.maximum}"
                )
        return value

    def range_text(self) -> str:
        """The range as the ScienceTools prompt shows it: ``(0:360)``, ``(CEL|GAL)`` or ``""``."""
        if self.choices:
            return f"({'|'.join(self.choices)})"
        if self.minimum or self.maximum:
            return f"({self.minimum}:{self.maximum})"
        return ""


def _compare(a: float, b: float) -> int:
    """Compare as the ScienceTools' parameter library does (equal within DBL_EPSILON, relative)."""
    if a == b or (a != 0 and abs((b - a) / a) <= sys.float_info.epsilon):
        return 0
    return -1 if a < b else 1


def _number(value: float) -> str:
    return f"{value:.15g}"


def parameter_from_entry(entry: ParEntry, checked: bool = True) -> Parameter:
    """Build a :class:`Parameter` from a par-file line (its value text is the default)."""
    kind = entry.kind
    bare = Parameter(entry.name, kind, None, entry.prompt, ptype=entry.type)
    default = bare.parse(entry.value)
    return Parameter(
        entry.name,
        kind,
        default,
        entry.prompt,
        hidden=entry.hidden,
        choices=entry.choices,
        minimum="" if entry.choices else entry.min,
        maximum=entry.max,
        mode=entry.mode,
        ptype=entry.type,
        checked=checked,
    )


def tool_parameters(tool: str, unchecked: Sequence[str] | None = None) -> list[Parameter]:
    """Return ``tool``'s parameters in par-file order, from the ``.par`` file shipped with the shim.

    ``unchecked`` names parameters the real tool reads without querying them, hence
    without enforcing their par-file range (e.g. gtselect's ``evclass``, 0..31 in the par
    file though Pass 8 masks such as 128 are valid); default: :data:`.queries.UNCHECKED`.
    """
    if unchecked is None:
        unchecked = UNCHECKED.get(tool, ())
    return [parameter_from_entry(e, e.name not in unchecked) for e in system_par(tool).entries]


def format_value(p: Parameter, value: Any) -> str:
    """Return a value as par-file text (``INDEF``, ``yes``/``no``, numbers, strings)."""
    if value is None:
        return "" if p.kind == "s" else "INDEF"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return repr(value)
    return str(value)


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
    """Return every parameter's value: ``given`` converted and range-checked, the rest defaults.

    Raises
    ------
    ParameterError
        For an unknown name, a value of the wrong type or out of range, or a required
        string (an empty file name) left unset.
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
    mode = values.get("mode")
    if isinstance(mode, str) and mode.strip().lower() not in _MODES:
        raise ParameterError("mode", f'invalid mode "{mode}" (use one of {", ".join(sorted(_MODES))})')
    return values


def call_tool(
    tool: str, function: Callable[..., Any], values: Mapping[str, Any], given: Sequence[str]
) -> Any:
    """Call a tool function with the resolved ``values`` it accepts.

    Bookkeeping parameters (:data:`BOOKKEEPING`) that the function does not take are
    dropped; any other parameter set by the user but not taken is an error, never ignored.
    """
    signature = inspect.signature(function)
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values()):
        unused = [n for n in values if n not in signature.parameters]
        ignored = [n for n in unused if n in given and n not in BOOKKEEPING]
        if ignored:
            raise ParameterError(ignored[0], f"{tool} does not use it in this implementation")
        values = {n: v for n, v in values.items() if n in signature.parameters}
    return function(**values)


def format_help(tool: str, summary: str, parameters: Sequence[Parameter]) -> str:
    """Return the ``--help`` text of a tool: usage line and the parameter table."""
    lines = [f"usage: {tool} name=value ...", "", summary, "", "parameters (par-file order; (h) = hidden):"]
    for p in parameters:
        default = "INDEF" if p.default is None and p.kind in "ri" else p.default
        if p.kind == "b" and isinstance(default, bool):
            default = "yes" if default else "no"
        flag = "(h)" if p.hidden else "   "
        shown = "" if default is None else f" [{default}]"
        span = f" {p.range_text()}" if p.range_text() else ""
        lines.append(f"  {flag} {p.name:<18} {p.prompt}{span}{shown}")
    lines += [
        "",
        "Parameters not given are prompted for on a terminal (not with mode=h); learned values",
        "are kept in the user's pfiles folder ($PFILES, default ~/pfiles): see pset, pget, plist, punlearn.",
    ]
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

    ``--help`` prints the parameter table. Values come, in order of precedence, from the
    command line, the terminal (prompts), the user's learned values, the par file. Errors
    a user can act on (:class:`ShimError`, an existing output with ``clobber=no``) are
    printed as one line ``<tool>: error: <message>`` and give exit code 1. With
    ``chatter > 0``, ``describe(result)`` is printed after a successful run.
    """
    from fermi_sciencetools_shim import pfiles, prompting

    args = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in args):
        print(format_help(tool, summary, parameters), end="")
        return 0
    try:
        parfile = pfiles.load_par(tool)
        raw = parse_command_line(args, parameters)
        texts = {e.name: e.value for e in parfile.entries if e.name in {p.name for p in parameters}}
        texts.update(raw)
        prompting.query(tool, parameters, texts, set(raw), interactive=prompting.interactive())
        pars = resolve(parameters, texts)
        learn(parfile, parameters, pars)
        result = call_tool(tool, function, pars, list(raw))
    except (ShimError, FileExistsError) as exc:
        print(f"{tool}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    if describe is not None and (pars.get("chatter") or 0) > 0:
        print(f"{tool}: {describe(result)}")
    return 0


def learns(p: Parameter, mode: str) -> bool:
    """Whether ``p``'s value is saved after a run with the tool's ``mode`` (ape rules)."""
    own = p.mode or ("h" if p.hidden else "a")
    if "l" in own:
        return True
    return own.startswith("a") and "l" in (mode or "").lower()


def learn(parfile: ParFile, parameters: Sequence[Parameter], values: Mapping[str, Any]) -> None:
    """Save the learned parameters' values in the user's pfiles folder (see :func:`learns`)."""
    from fermi_sciencetools_shim import pfiles

    mode = str(values.get("mode") or "")
    changed = False
    for p in parameters:
        if p.name in parfile and learns(p, mode):
            text = format_value(p, values[p.name])
            if parfile[p.name].value != text:
                parfile.set_value(p.name, text)
                changed = True
    if changed:
        pfiles.save_par(parfile)
