"""``.par`` files: the IRAF/PIL parameter-file format the ScienceTools read and write.

One parameter per line, seven comma-separated fields::

    name, type, mode, value, min, max, prompt

``type`` is ``b`` (boolean), ``i`` (integer), ``r`` (real), ``s`` (string) or ``f`` (file
name, possibly with access letters such as ``fr``); ``mode`` is ``a`` (automatic: the
tool's ``mode`` parameter decides), ``q`` (query), ``h`` (hidden), optionally with ``l``
(learn). ``min`` holds either a lower bound or an enumeration ``A|B|C`` (then ``max`` is
empty). Fields may be quoted with ``"`` or ``'``; lines starting with ``#`` and blank lines
are kept as they are when a file is written back.

The shim ships one ``.par`` file per tool (``fermi_sciencetools_shim/pfiles``): the single
definition of the tool's parameters, read by :mod:`.params`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

from fermi_sciencetools_shim.atomic import atomic_output
from fermi_sciencetools_shim.errors import InputFileError

TYPES = frozenset("bdifrs")
_FIELDS = ("name", "type", "mode", "value", "min", "max", "prompt")


@dataclass(frozen=True)
class ParEntry:
    """One parameter line of a ``.par`` file (all fields as text, quotes removed).

    Attributes
    ----------
    name, type, mode, value, min, max, prompt
        The seven fields; ``value`` is the text the file holds (``INDEF``, ``yes`` ...).
    """

    name: str
    type: str
    mode: str
    value: str
    min: str
    max: str
    prompt: str

    @property
    def kind(self) -> str:
        """The value type: ``b``, ``i``, ``r`` or ``s`` (file names and doubles folded in)."""
        first = self.type[:1]
        return {"f": "s", "d": "r"}.get(first, first)

    @property
    def choices(self) -> tuple[str, ...]:
        """The enumerated values of ``min`` (``A|B|C``), or ``()``."""
        if "|" not in self.min:
            return ()
        return tuple(c.strip() for c in self.min.split("|") if c.strip())

    @property
    def hidden(self) -> bool:
        """True for mode ``h`` / ``hl`` parameters."""
        return self.mode.startswith("h")

    def with_value(self, value: str) -> ParEntry:
        """Return a copy holding ``value``."""
        return replace(self, value=value)

    def line(self) -> str:
        """Return the entry as a ``.par`` line (strings, files and prompts quoted)."""
        value = self.value
        if self.kind == "s" or value == "":
            value = _quote(value)
        return ",".join([self.name, self.type, self.mode, value, self.min, self.max, _quote(self.prompt)])


def _quote(text: str) -> str:
    return '"' + text.replace('"', '\\"') + '"'


def _split_fields(line: str) -> list[str]:
    """Split a par line on commas outside quotes."""
    fields, current, quote, escaped = [], [], "", False
    for char in line:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif quote:
            current.append(char)
            if char == quote:
                quote = ""
        elif char in "\"'":
            current.append(char)
            quote = char
        elif char == ",":
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
    if quote:
        raise ValueError("unterminated quote")
    fields.append("".join(current))
    return fields


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1].replace('\\"', '"')
    return text


class ParFile:
    """The parameters of one tool, in file order, with the file's comment lines.

    Parameters
    ----------
    tool
        Tool name (``gtselect`` ...).
    lines
        The file's lines: a :class:`ParEntry` for each parameter, ``str`` for comments/blanks.
    source
        Where the file was read from (for messages).
    """

    def __init__(self, tool: str, lines: list[ParEntry | str], source: str = "") -> None:
        self.tool = tool
        self.lines = lines
        self.source = source

    @property
    def entries(self) -> list[ParEntry]:
        """The parameter entries in file order."""
        return [line for line in self.lines if isinstance(line, ParEntry)]

    def names(self) -> list[str]:
        """Parameter names in file order."""
        return [e.name for e in self.entries]

    def __contains__(self, name: object) -> bool:
        return any(e.name == name for e in self.entries)

    def __getitem__(self, name: str) -> ParEntry:
        for entry in self.entries:
            if entry.name == name:
                return entry
        raise KeyError(name)

    def set_value(self, name: str, value: str) -> None:
        """Replace the value text of parameter ``name``."""
        for i, line in enumerate(self.lines):
            if isinstance(line, ParEntry) and line.name == name:
                self.lines[i] = line.with_value(value)
                return
        raise KeyError(name)

    def copy(self) -> ParFile:
        """Return an independent copy."""
        return ParFile(self.tool, list(self.lines), self.source)

    def text(self) -> str:
        """Return the file text."""
        return "".join((line.line() if isinstance(line, ParEntry) else line) + "\n" for line in self.lines)

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write the file to ``path`` (replacing it atomically)."""
        with atomic_output(path) as tmp:
            tmp.write_text(self.text(), encoding="utf-8")


def parse_par(text: str, tool: str, source: str = "") -> ParFile:
    """Parse the text of a ``.par`` file.

    Raises
    ------
    InputFileError
        For a malformed line (naming the file, the line number and the reason).
    """
    lines: list[ParEntry | str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            lines.append(raw.rstrip())
            continue
        try:
            fields = _split_fields(stripped)
        except ValueError as exc:
            raise InputFileError(source or tool, f"line {number}: {exc}") from None
        if len(fields) < 7:
            raise InputFileError(
                source or tool,
                f"line {number}: {len(fields)} fields, a parameter line needs 7 ({', '.join(_FIELDS)})",
            )
        # A prompt may contain unquoted commas (the ScienceTools' pil.py joins the rest).
        head = [_unquote(f) for f in fields[:6]]
        prompt = _unquote(",".join(fields[6:]))
        entry = ParEntry(head[0], head[1].lower(), head[2].lower(), head[3], head[4], head[5], prompt)
        if not entry.name or not entry.type or entry.type[0] not in TYPES:
            raise InputFileError(
                source or tool, f"line {number}: bad name or type {fields[0]!r}, {fields[1]!r}"
            )
        if not entry.mode or entry.mode[0] not in "ahq":
            raise InputFileError(source or tool, f"line {number}: bad mode {fields[2]!r} of {entry.name}")
        lines.append(entry)
    return ParFile(tool, lines, source)


def read_par(path: str | os.PathLike[str], tool: str | None = None) -> ParFile:
    """Read a ``.par`` file from disk.

    Raises
    ------
    InputFileError
        If it cannot be read or is malformed.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(p, f"cannot read parameter file ({exc.__class__.__name__}: {exc})") from None
    return parse_par(text, tool or p.stem, str(p))


def system_par(tool: str) -> ParFile:
    """Return the shipped definition of ``tool``'s parameters (``fermi_sciencetools_shim/pfiles``)."""
    name = f"{tool}.par"
    ref = resources.files("fermi_sciencetools_shim") / "pfiles" / name
    if not ref.is_file():
        raise InputFileError(name, "no such parameter file is shipped with fermi-sciencetools-shim")
    return parse_par(ref.read_text(encoding="utf-8"), tool, f"fermi_sciencetools_shim/pfiles/{name}")


def system_par_dir() -> Path:
    """The folder of the shipped ``.par`` files."""
    return Path(str(resources.files("fermi_sciencetools_shim") / "pfiles"))
