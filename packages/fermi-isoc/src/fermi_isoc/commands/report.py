"""``fermi-isoc report --week N``: the weekly LAT report (HTML with plots and tables, CSV and XLSX)."""

from __future__ import annotations

import argparse

from fermi_isoc.db import isoc_session
from fermi_isoc.trending.report import weekly_report
from fermi_sciencetools_shim.errors import ShimError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``report``."""
    p = subparsers.add_parser(
        "report",
        help="write the weekly LAT report (HTML with trending plots, the weekly quantities as CSV and XLSX)",
    )
    p.add_argument("--week", type=int, required=True, help="mission week number")
    p.add_argument("--ft2", action="append", default=[], help="FT2 file covering the week (repeatable)")
    p.add_argument("--out", default="reports", help="output folder (default ./reports)")
    p.add_argument("--format", choices=("png", "svg"), default="png", help="plot format")
    p.add_argument("--db", help="database URL (default: FERMI_DB_URL)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Write the report and print where."""
    if args.week < 0:
        print(f"fermi-isoc report: error: --week must be >= 0, got {args.week}")
        return 2
    try:
        with isoc_session(args.db) as session:
            index = weekly_report(args.week, args.out, session, args.ft2, fmt="." + args.format)
    except (OSError, ValueError, ShimError) as exc:
        print(f"fermi-isoc report: error: {exc}")
        return 2
    except ImportError as exc:  # openpyxl, for the XLSX of the weekly quantities
        print(f"fermi-isoc report: error: {exc.name or exc} is not installed (needed for weekly_wNNN.xlsx)")
        return 2
    print(f"weekly report of week {args.week}: {index}")
    print(
        f"weekly quantities: {index.parent / f'weekly_w{args.week:03d}.csv'}, {index.parent / f'weekly_w{args.week:03d}.xlsx'}"
    )
    return 0
