"""``GtApp``: the Fermitools' Python interface to the tools (``GtApp.py`` / ``gt_apps.py``).

Scripts written for the Fermitools run unchanged: the shim installs top-level ``GtApp``
and ``gt_apps`` modules that re-export this one::

    import gt_apps as my_apps
    my_apps.filter["evclass"] = 128
    my_apps.filter["infile"] = "ft1.fits"
    ...
    my_apps.filter.run()

As in the Fermitools, an application holds the parameters of its ``.par`` file (the
shipped definition with the user's learned values, :mod:`.pfiles`), ``app["emin"] = 100``
converts the value (a bad one raises :class:`ValueError`), ``app.pars()`` is the
command-line argument string, ``command()`` the command line (``time -p gtselect
infile=... ...``), ``run()`` runs the tool and raises a :class:`RuntimeError` (the
shim's :class:`~.errors.ShimError`) when it fails, and ``runWithOutput()`` returns
``(stdin, stdout)`` file objects with the tool's output, as fermipy's ``run_gtapp`` reads it.

Differences from the Fermitools: the tools run in-process (no subprocess, no prompting);
``run()`` returns what the tool function returns (a result object or the output path);
``runWithOutput()`` raises the tool's error instead of leaving it in the output text
(the text read so far is the exception's ``output`` attribute); ``INDEF`` reads back as
``None`` and booleans as ``True``/``False``.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

from fermi_sciencetools_shim.errors import ParameterError, ShimError
from fermi_sciencetools_shim.params import (
    Parameter,
    call_tool,
    format_value,
    learn,
    resolve,
    tool_parameters,
    unquote,
)
from fermi_sciencetools_shim.parfile import ParFile
from fermi_sciencetools_shim.tools import get_tool, tool_names

_SHELL_SPECIAL = set(" \t\n\"'&|<>()$`;*?[]{}!#~\\")


def _quoted(name: str, text: str) -> str:
    return f'{name}="{text}"' if '"' not in text else f"{name}='{text}'"


def _argument(p: Parameter, value: Any) -> str:
    """One ``name=value`` argument as the Fermitools' ``Pil.__call__`` writes it: strings and
    ``INDEF`` in double quotes, file names quoted only when the shell needs it, the rest bare."""
    text = format_value(p, value)
    if value is None and p.kind in "ri":
        return _quoted(p.name, "INDEF")
    if p.ptype.startswith("s") or (
        p.ptype.startswith("f") and (text == "" or any(c in _SHELL_SPECIAL for c in text))
    ):
        return _quoted(p.name, text)
    return f"{p.name}={text}"


class Pil:
    """The parameters of one application (the Fermitools' ``pil.Pil`` interface).

    Parameters
    ----------
    appName
        Tool name (``gtselect`` ...).
    raiseKeyErrors
        If true, setting an unknown parameter raises :class:`KeyError`; otherwise it is ignored.
    """

    def __init__(self, appName: str, raiseKeyErrors: bool = True) -> None:
        from fermi_sciencetools_shim import pfiles

        if appName not in tool_names():
            raise ParameterError(
                "appName", f"unknown tool {appName!r} (available: {', '.join(tool_names())})"
            )
        self.appName = appName
        self.raiseKeyErrors = raiseKeyErrors
        self.parameters = tool_parameters(appName)
        self._by_name = {p.name: p for p in self.parameters}
        self.parfile_contents: ParFile = pfiles.load_par(appName)
        self.parfile = self.parfile_contents.source
        self.names = [p.name for p in self.parameters]
        self.values: dict[str, Any] = {}
        for p in self.parameters:
            text = self.parfile_contents[p.name].value if p.name in self.parfile_contents else None
            try:
                self.values[p.name] = p.parse(text) if text is not None else p.default
            except ParameterError:
                self.values[p.name] = p.default
        self.explicit: set[str] = set()

    def keys(self) -> list[str]:
        """Parameter names in par-file order."""
        return list(self.names)

    def has_key(self, name: str) -> bool:
        """Whether ``name`` is a parameter."""
        return name in self._by_name

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def parameter(self, name: str) -> Parameter:
        """The :class:`~.params.Parameter` called ``name`` (:class:`KeyError` if none)."""
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"{self.appName}: unknown parameter {name!r}") from None

    def __getitem__(self, name: str) -> Any:
        if name not in self._by_name and not self.raiseKeyErrors:
            return None
        self.parameter(name)
        return self.values[name]

    def __setitem__(self, name: str, value: Any) -> None:
        if name not in self._by_name:
            if self.raiseKeyErrors:
                self.parameter(name)
            return
        self.values[name] = self._by_name[name].parse(unquote(value))
        self.explicit.add(name)

    def __call__(self) -> str:
        """The argument string `` name=value ...`` of every parameter (``Pil()``)."""
        return "".join(" " + _argument(p, self.values[p.name]) for p in self.parameters)

    def __str__(self) -> str:
        from fermi_sciencetools_shim.pcommands import plist_text

        return plist_text(self.appName, self.parameters, self.values)

    def prompt(self, item: str) -> None:
        """Ask for ``item`` on standard input (non-hidden parameters only), as ``Pil.prompt``."""
        from fermi_sciencetools_shim.prompting import ask

        p = self.parameter(item)
        if not p.hidden:
            self[item] = ask(p, format_value(p, self.values[item]), sys.stdin, sys.stdout)

    def copy(self, rhs: Pil) -> None:
        """Copy the values of the parameters ``rhs`` also has."""
        for name in self.names:
            if name in rhs:
                self[name] = rhs[name]

    def write(self, filename: str | os.PathLike[str] | None = None) -> None:
        """Write the current values as a ``.par`` file (default: the user's pfiles copy)."""
        from fermi_sciencetools_shim import pfiles

        out = self.parfile_contents.copy()
        for p in self.parameters:
            out.set_value(p.name, format_value(p, self.values[p.name]))
        if filename is None:
            pfiles.save_par(out)
        else:
            out.write(filename)


class GtApp:
    """A ScienceTools application with its parameters (the Fermitools' ``GtApp`` interface).

    Parameters
    ----------
    appName
        Tool name: ``gtselect``, ``gtmktime``, ``gtbin`` or ``gtltcube``.
    package
        The ScienceTools package name; accepted for compatibility and not used.
    raiseKeyErrors
        If true (default), setting an unknown parameter raises :class:`KeyError`.
    preserveQuotes
        Accepted for compatibility (values are always stored unquoted).

    Raises
    ------
    ParameterError
        For a tool the shim does not implement.
    """

    def __init__(
        self,
        appName: str,
        package: str | None = None,
        raiseKeyErrors: bool = True,
        preserveQuotes: bool = False,
    ) -> None:
        self.pars = Pil(appName, raiseKeyErrors)
        self.app = appName
        self.appName = appName
        self.package = package or appName
        self.raiseKeyErrors = raiseKeyErrors
        self.preserveQuotes = preserveQuotes

    def __getitem__(self, key: str) -> Any:
        return self.pars[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.pars[key] = value

    def __getattr__(self, name: str) -> Any:
        if name == "pars":  # not yet set (during unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.pars, name)

    def __contains__(self, key: object) -> bool:
        return key in self.pars

    def __iter__(self) -> Iterator[str]:
        return iter(self.pars)

    def values(self) -> dict[str, Any]:
        """Every parameter's current value, in par-file order."""
        return dict(self.pars.values)

    def command(self, do_timing: bool = True) -> str:
        """The command line: ``time -p gtselect infile=... ...`` (no ``time -p`` when
        ``do_timing`` is false, on non-POSIX systems or with ``chatter=0``), as the Fermitools write it."""
        chatter = self.pars.values.get("chatter", 2)
        prefix = "time -p " if do_timing and os.name == "posix" and chatter != 0 else ""
        return prefix + self.app + self.pars()

    def _execute(self) -> Any:
        """Run the tool in-process with the current values; learn them as the real tools do."""
        tool = get_tool(self.appName)
        values = resolve(tool.parameters, self.pars.values)
        learn(self.pars.parfile_contents, tool.parameters, values)
        return call_tool(self.appName, tool.function, values, sorted(self.pars.explicit))

    def run(
        self,
        print_command: bool = True,
        catchError: str | None = "at the top level:",
        dry_run: bool = False,
        **kwds: Any,
    ) -> Any:
        """Set ``kwds``, then run the tool and return what its function returns.

        ``dry_run=True`` returns :meth:`command` without running. With ``chatter=0`` the
        command is not printed. ``catchError`` is accepted for compatibility.

        Raises
        ------
        ShimError
            (a :class:`RuntimeError`) when the tool fails: bad parameter, unusable input.
        """
        del catchError
        for name, value in kwds.items():
            self[name] = value
        if self.pars.values.get("chatter", 2) == 0:
            print_command = False
        if dry_run:
            return self.command()
        if print_command:
            print(self.command())
        start, cpu = time.perf_counter(), os.times()
        result = self._execute()
        if print_command and self.command().startswith("time -p "):
            end = os.times()
            print(f"real {time.perf_counter() - start:.2f}")
            print(f"user {end.user - cpu.user + end.children_user - cpu.children_user:.2f}")
            print(f"sys {end.system - cpu.system + end.children_system - cpu.children_system:.2f}")
        return result

    def runWithOutput(self, print_command: bool = True) -> tuple[io.StringIO, io.StringIO]:
        """Run the tool and return ``(stdin, stdout)``: file objects, ``stdout`` holding its output.

        Raises
        ------
        ShimError
            (a :class:`RuntimeError`) when the tool fails; its ``output`` attribute holds
            the output written before the failure.
        """
        if print_command:
            print(self.command())
        buffer = io.StringIO()
        try:
            with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
                self._execute()
        except ShimError as exc:
            exc.output = buffer.getvalue()  # type: ignore[attr-defined]
            raise
        return io.StringIO(), io.StringIO(buffer.getvalue())

    def __repr__(self) -> str:
        return f"GtApp({self.appName!r})"
