"""Command ``fermi-shim``: version and the list of ScienceTools-compatible commands."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from fermi_sciencetools_shim._version import __version__


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``fermi-shim``."""
    return argparse.ArgumentParser(
        prog="fermi-shim",
        description=(
            "ScienceTools-compatible Fermi LAT data preparation in pure Python. "
            "The tools are separate commands with ScienceTools parameter syntax "
            "(e.g. 'gtselect infile=ft1.fits outfile=out.fits ra=83.63 dec=22.01 rad=10')."
        ),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fermi-shim`` with ``argv`` and return the exit code."""
    parser = build_parser()
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.parse_args(argv)
    parser.print_help()
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
