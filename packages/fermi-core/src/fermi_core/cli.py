"""``fermi-core``: the foundation's command: ``db upgrade|current|check`` for every installed package.

An unreachable database gives one line naming it (password hidden) and the cause, exit code 2
(:func:`fermi_core.dbguard.call_guarded`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from rich.console import Console

from fermi_core import logs
from fermi_core._version import __version__
from fermi_core.dbguard import call_guarded
from fermi_core.migrations import command as db_command
from fermi_core.site import Site


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``fermi-core``."""
    parser = argparse.ArgumentParser(prog="fermi-core", description=__doc__)
    parser.add_argument("--version", action="version", version=f"fermi-core {__version__}")
    parser.add_argument("--home", default=None, help="data home (default $FERMI_HOME or ./fermi-data)")
    parser.add_argument(
        "--db-url", default=None, help="database URL (default $FERMI_DB_URL or SQLite in the data home)"
    )
    logs.add_arguments(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    db_command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fermi-core``; return the exit code."""
    args = build_parser().parse_args(argv)
    logs.configure(args)
    args.db_url = Site.from_env(home=args.home, db_url=args.db_url).db_url
    command = f"fermi-core {args.command} {getattr(args, 'db_command', '')}".strip()
    return call_guarded(command, args.db_url, db_command.run, args, Console(highlight=False))
