"""``fermi-isoc plan``: SAA passages, leap seconds and command checks for a mission week."""

from __future__ import annotations

import argparse
import json

from fermi_isoc.planning.commands import TimelineError, check_week_boundaries, read_timeline
from fermi_isoc.planning.orbit import TleError, default_tle, read_tle
from fermi_isoc.planning.week import plan_week
from fermi_sciencetools_shim.time import met_to_utc_iso


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``plan``."""
    p = subparsers.add_parser(
        "plan",
        help="plan a mission week: SAA passages from a TLE, leap seconds, commands across week boundaries",
    )
    p.add_argument("--week", type=int, required=True, help="mission week number")
    p.add_argument("--tle", help="TLE file (2 lines, or a name line and 2); default: the built-in one")
    p.add_argument("--commands", help="command timeline (.csv or .json) to check against week boundaries")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the plan; exit 1 when a command crosses a week boundary, 2 on bad input."""
    try:
        tle = read_tle(args.tle) if args.tle else default_tle()
        commands = read_timeline(args.commands) if args.commands else []
    except (TleError, TimelineError) as exc:
        print(f"fermi-isoc plan: error: {exc}")
        return 2
    if args.week < 0:
        print(f"fermi-isoc plan: error: --week must be >= 0, got {args.week}")
        return 2
    plan = plan_week(args.week, tle)
    findings = check_week_boundaries(commands)
    if args.json:
        print(
            json.dumps(
                {
                    "week": plan.week,
                    "met_start": plan.met_start,
                    "met_stop": plan.met_stop,
                    "utc_start": plan.utc_start,
                    "utc_stop": plan.utc_stop,
                    "tle_epoch_utc": str(met_to_utc_iso(tle.epoch_met, 0)),
                    "polygon": plan.polygon.name,
                    "summary": plan.summary(),
                    "passages": [
                        {"entry": p.entry, "exit": p.exit, "duration_s": p.duration} for p in plan.passages
                    ],
                    "warnings": plan.warnings,
                    "command_findings": [f.message for f in findings],
                },
                indent=2,
            )
        )
    else:
        s = plan.summary()
        print(f"mission week {plan.week}: {plan.utc_start} .. {plan.utc_stop} UTC (stop exclusive)")
        print(f"TLE {tle.source}, epoch {met_to_utc_iso(tle.epoch_met, 0)}; polygon {plan.polygon.name}")
        print(
            f"{s['passages']} SAA passages ({s['per_day']:.1f}/day), {100 * s['fraction_inside']:.1f} % "
            f"of the time inside, {s['min_duration_s'] / 60:.1f}-{s['max_duration_s'] / 60:.1f} min"
        )
        for p in plan.passages:
            print(f"  {met_to_utc_iso(p.entry, 1)}  {met_to_utc_iso(p.exit, 1)}  {p.duration / 60:5.1f} min")
        print(f"leap-second table expires {plan.leap_table.expires} ({plan.leap_table.days_left} days)")
        for w in plan.warnings:
            print(f"WARNING: {w}")
        for f in findings:
            print(f"COMMAND: {f.message}")
    return 1 if findings else 0
