"""Logging of every command: stdlib :mod:`logging`, ``--verbose`` / ``--quiet``, context per line.

Commands call :func:`add_arguments` on their parser and :func:`configure` with the parsed
arguments. Log lines that concern a delivery or a run carry it (:func:`context_logger`), so an
operator can grep for ``delivery=170817001`` or ``run=524669480``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Mapping
from typing import Any

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``-v/--verbose`` (repeatable) and ``-q/--quiet`` to ``parser``."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    group.add_argument("-q", "--quiet", action="store_true", help="only errors")


def level_of(verbose: int = 0, quiet: bool = False) -> int:
    """Logging level for the options: warning by default, info with -v, debug with -vv, error with -q."""
    if quiet:
        return logging.ERROR
    return {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)


def configure(args: argparse.Namespace | None = None, *, verbose: int = 0, quiet: bool = False) -> int:
    """Set up the root logger for a command (stderr); return the level chosen.

    Called again (commands run in-process in tests and in the demo), it replaces its own handler
    rather than adding another.
    """
    if args is not None:
        verbose, quiet = getattr(args, "verbose", 0) or 0, bool(getattr(args, "quiet", False))
    level = level_of(verbose, quiet)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_fermi", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler._fermi = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    return level


class ContextAdapter(logging.LoggerAdapter):
    """A logger whose lines end with ``key=value`` of what they concern (delivery, run, task)."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        extra = self.extra or {}
        if extra:
            msg = f"{msg} [{' '.join(f'{k}={v}' for k, v in extra.items())}]"
        return msg, kwargs


def context_logger(name: str, **context: Any) -> ContextAdapter:
    """``logging.getLogger(name)`` whose lines carry ``context`` (e.g. ``delivery=…``, ``run=…``)."""
    return ContextAdapter(logging.getLogger(name), dict(context))


def with_context(logger: logging.Logger | ContextAdapter, context: Mapping[str, Any]) -> ContextAdapter:
    """``logger`` with more context added."""
    if isinstance(logger, ContextAdapter):
        return ContextAdapter(logger.logger, {**(logger.extra or {}), **context})
    return ContextAdapter(logger, dict(context))
