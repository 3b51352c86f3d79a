"""``fermi-isoc saa-report``: check a flight-operations SAA report (against the previous one, a TLE)."""

from __future__ import annotations

import argparse

from fermi_isoc.planning.orbit import TleError, read_tle
from fermi_isoc.planning.saareport import (
    SaaReportError,
    check_report,
    cross_check_with_tle,
    read_saa_report,
    report_date,
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``saa-report``."""
    p = subparsers.add_parser(
        "saa-report", help="check an SAA report from flight operations (exit: 0 clean, 1 warnings, 2 errors)"
    )
    p.add_argument(
        "report",
        help="the new SAA report: flight operations' file (L<YYYY><DOY>SAA..., no header, "
        "DOY/YYYY hh:mm:ss.sss, quoted orbits, minutes) or a CSV with header "
        "start,start_orbit,stop,stop_orbit,duration_s",
    )
    p.add_argument("--previous", help="the previous report, to compare transit by transit")
    p.add_argument("--tle", help="TLE file to cross-check the transits against sgp4 predictions")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the findings; exit with the worst severity."""
    try:
        report = read_saa_report(args.report)
        dated = report_date(args.report)
        previous = read_saa_report(args.previous) if args.previous else None
        tle = read_tle(args.tle) if args.tle else None
    except (SaaReportError, TleError) as exc:
        print(f"fermi-isoc saa-report: error: {exc}")
        return 2
    findings = check_report(report, previous)
    if tle is not None:
        findings += cross_check_with_tle(report, tle)
    dated_text = f" (report of {dated.isoformat()}, from its name)" if dated else ""
    print(f"{len(report)} transits in {args.report}{dated_text}")
    for f in findings:
        print(f"{f.severity.upper()} {f.message}")
    severities = {f.severity for f in findings}
    return 2 if "error" in severities else 1 if severities else 0
