"""Prompting for parameters on a terminal, as the ScienceTools' parameter library does.

A parameter is queried when its effective mode is ``q``: its own mode, with ``a``
(automatic) replaced by the first letter of the tool's ``mode`` parameter (``ql`` by
default); a value given on the command line makes it ``h``. The prompt is the par file's
prompt, the range and the current value: ``RA for new search center (degrees) (0:360)
[INDEF] ``; an empty answer keeps the value; a value that cannot be converted or is out of
range prints the reason and asks again. Nothing is ever asked when standard input is not a
terminal: the tools then run with the values they have (and refuse, in one line, a
required value that is missing).
"""

from __future__ import annotations

import sys
from collections.abc import MutableMapping, Sequence
from typing import TYPE_CHECKING, TextIO

from fermi_sciencetools_shim.errors import ParameterError
from fermi_sciencetools_shim.queries import query_order

if TYPE_CHECKING:  # the tools' parameters (params imports this module to prompt for them)
    from fermi_sciencetools_shim.params import Parameter


def interactive(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (default: standard input) is a terminal."""
    stream = sys.stdin if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def effective_mode(p: Parameter, mode: str, on_command_line: bool) -> str:
    """Return ``q`` or ``h``: whether ``p`` is queried (see the module documentation)."""
    if on_command_line:
        return "h"
    own = (p.mode or ("h" if p.hidden else "a"))[:1]
    if own == "a":
        own = (mode.strip().lower() or "q")[:1]
        if own not in "qh":
            own = "q"
    return own


def prompt_text(p: Parameter, current: str) -> str:
    """The prompt line shown for ``p`` with its current value text."""
    span = p.range_text()
    return f"{p.prompt} {span + ' ' if span else ''}[{current}] "


def ask(p: Parameter, current: str, stdin: TextIO, stdout: TextIO) -> str:
    """Ask for ``p`` until the answer is valid; return the value text (``current`` if empty).

    Raises
    ------
    ParameterError
        When the input ends before an answer is given.
    """
    while True:
        stdout.write(prompt_text(p, current))
        stdout.flush()
        line = stdin.readline()
        if line == "":
            stdout.write("\n")
            raise ParameterError(p.name, "end of input encountered unexpectedly")
        answer = line.strip()
        candidate = answer if answer else current
        try:
            p.convert(candidate)
        except ParameterError as exc:
            if not answer:
                return current  # the value held is kept; the tool reports it if unusable
            stdout.write(f"Parameter {p.name}: {exc.reason}.\n")
            continue
        return candidate


def query(
    tool: str,
    parameters: Sequence[Parameter],
    texts: MutableMapping[str, str],
    given: set[str],
    interactive: bool,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> list[str]:
    """Prompt for the parameters ``tool`` queries, updating ``texts``; return the names asked.

    ``texts`` holds every parameter's value text (learned or default, overridden by the
    command line); ``given`` the names set on the command line.
    """
    if not interactive:
        return []
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    by_name = {p.name: p for p in parameters}
    mode = str(texts.get("mode", "ql"))
    asked: list[str] = []

    def value_of(name: str) -> object:
        try:
            return by_name[name].parse(texts.get(name))
        except ParameterError:
            return None

    for name in query_order(tool, [p.name for p in parameters], value_of):
        p = by_name[name]
        if effective_mode(p, mode, name in given) != "q":
            continue
        texts[name] = ask(p, str(texts.get(name, "")), stdin, stdout)
        asked.append(name)
    return asked
