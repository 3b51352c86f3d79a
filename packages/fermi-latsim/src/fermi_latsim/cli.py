"""Command line entry point ``fermi-latsim``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from fermi_latsim._version import __version__


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``fermi-latsim``."""
    parser = argparse.ArgumentParser(
        prog="fermi-latsim",
        description="Simulate LAT telemetry deliveries (orbit, attitude, sky, detector, faults).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fermi-latsim`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return 0  # pragma: no cover - every subcommand returns before this line


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
