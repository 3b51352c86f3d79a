"""Command line entry point ``fermi-l1``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from fermi_l1._version import __version__


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``fermi-l1``."""
    parser = argparse.ArgumentParser(
        prog="fermi-l1",
        description="Level 1 processing: digi, reconstruction, merit, FT1/FT2, catalog, FSSC export.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fermi-l1`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return 0  # pragma: no cover - every subcommand returns before this line


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
