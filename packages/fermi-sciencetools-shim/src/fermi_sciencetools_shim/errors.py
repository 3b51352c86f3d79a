"""Exceptions raised by the tools; each names the parameter or file at fault."""

from __future__ import annotations


class ShimError(RuntimeError):
    """Base class: an error a user can act on, printed as one line by the commands.

    It is a :class:`RuntimeError`, the exception the Fermitools' ``GtApp.run`` raises when
    a tool fails, so scripts (and retry wrappers) catching ``RuntimeError`` see it.
    """


class ParameterError(ShimError, ValueError):
    """A tool parameter is missing, malformed or inconsistent (names the parameter)."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"parameter {name!r}: {reason}")
        self.name = name
        self.reason = reason


class InputFileError(ShimError):
    """An input file is missing, unreadable or lacks what the tool needs (names the file)."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason
