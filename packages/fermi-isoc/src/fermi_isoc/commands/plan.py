"""``fermi-isoc plan``: SAA passages, orbit commands, leap seconds and boundary checks of a mission week."""

from __future__ import annotations

import argparse
import json

from fermi_core.mission.saa import SaaPolygonError, load_polygons
from fermi_isoc.planning.commands import TimelineError, check_week_boundaries, read_timeline
from fermi_isoc.planning.orbit import TleError, default_tle, read_tle
from fermi_isoc.planning.products import write_products
from fermi_isoc.planning.week import MAX_TLE_AGE_DAYS, StaleTle, plan_week
from fermi_sciencetools_shim.time import met_to_utc_iso


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``plan``."""
    p = subparsers.add_parser(
        "plan",
        help="plan a mission week: SAA passages from a TLE, orbit commands, leap seconds, week-boundary checks",
        description="Plan mission week N (half-open, Thursday 00:00 UTC to the next). Exit codes: 0 clean, "
        "1 a command straddles or sits on a week boundary, 2 bad input (also a TLE too far from the week).",
    )
    p.add_argument("--week", type=int, required=True, help="mission week number")
    p.add_argument("--tle", help="TLE file (2 lines, or a name line and 2); default: the built-in one")
    p.add_argument("--commands", help="command timeline (.csv or .json) to check against week boundaries")
    p.add_argument(
        "--out",
        help="write the planning products (SAA passages in the flight-operations format and as CSV, "
        "week JSON, leap seconds, orbit commands, boundary findings) into OUT/wNNN/",
    )
    p.add_argument(
        "--max-tle-age",
        type=float,
        default=MAX_TLE_AGE_DAYS,
        metavar="DAYS",
        help=f"largest distance of the TLE epoch from the week (default {MAX_TLE_AGE_DAYS:g} days)",
    )
    p.add_argument(
        "--allow-old-tle", action="store_true", help="plan with a TLE beyond --max-tle-age anyway (warns)"
    )
    p.add_argument(
        "--saa-polygons",
        metavar="DIR",
        help="folder of extra SAA polygon versions (*.toml, see docs/operations/saa-polygon.md)",
    )
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print (and write) the plan; exit 1 when a command touches a week boundary, 2 on bad input."""
    if args.week < 0:
        print(f"fermi-isoc plan: error: --week must be >= 0, got {args.week}")
        return 2
    try:
        tle = read_tle(args.tle) if args.tle else default_tle()
        commands = read_timeline(args.commands) if args.commands else []
        polygons = load_polygons(args.saa_polygons) if args.saa_polygons else None
        plan = plan_week(
            args.week,
            tle,
            max_tle_age_days=args.max_tle_age,
            allow_old_tle=args.allow_old_tle,
            polygons=polygons,
        )
    except (TleError, TimelineError, StaleTle, SaaPolygonError) as exc:
        print(f"fermi-isoc plan: error: {exc}")
        return 2
    findings = check_week_boundaries(commands)
    load_findings = check_week_boundaries(plan.commands)
    files = write_products(plan, args.out, commands) if args.out else {}
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
                    "tle_days_from_week": plan.tle_distance_days,
                    "polygon": plan.polygon.name,
                    "summary": plan.summary(),
                    "passages": [
                        {"entry": p.entry, "exit": p.exit, "duration_s": p.duration} for p in plan.passages
                    ],
                    "commands": len(plan.commands),
                    "warnings": plan.warnings,
                    "command_findings": [f.message for f in load_findings + findings],
                    "files": {k: str(v) for k, v in files.items()},
                },
                indent=2,
            )
        )
    else:
        s = plan.summary()
        print(f"mission week {plan.week}: {plan.utc_start} .. {plan.utc_stop} UTC (stop exclusive)")
        print(
            f"TLE {tle.source}, epoch {met_to_utc_iso(tle.epoch_met, 0)} "
            f"({abs(plan.tle_distance_days):.1f} days from the week); "
            f"polygon {plan.polygon.name} (valid from {plan.polygon.valid_from})"
        )
        print(
            f"{s['passages']} SAA passages ({s['per_day']:.1f}/day), {100 * s['fraction_inside']:.1f} % "
            f"of the time inside, {s['min_duration_s'] / 60:.1f}-{s['max_duration_s'] / 60:.1f} min; "
            f"{len(plan.commands)} orbit commands"
        )
        for p in plan.passages:
            print(f"  {met_to_utc_iso(p.entry, 1)}  {met_to_utc_iso(p.exit, 1)}  {p.duration / 60:5.1f} min")
        print(f"leap-second table expires {plan.leap_table.expires} ({plan.leap_table.days_left} days)")
        for w in plan.warnings:
            print(f"WARNING: {w}")
        for f in load_findings + findings:
            print(f"COMMAND: {f.message}")
        for kind, path in files.items():
            print(f"wrote {kind}: {path}")
    return 1 if findings or load_findings else 0
