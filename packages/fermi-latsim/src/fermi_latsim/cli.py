"""Command line entry point ``fermi-latsim``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from fermi_core import logs
from fermi_latsim._version import __version__


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``fermi-latsim``."""
    parser = argparse.ArgumentParser(
        prog="fermi-latsim",
        description="Simulate LAT telemetry deliveries (orbit, attitude, sky, detector, faults).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    logs.add_arguments(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sim = sub.add_parser("simulate", help="simulate H hours of deliveries plus their truth into DIR")
    sim.add_argument("--hours", type=float, default=1.0, help="hours of data (default 1)")
    sim.add_argument("--out", required=True, help="output directory (deliveries/ and truth/)")
    sim.add_argument("--seed", type=int, default=0, help="random seed (same seed, same bytes)")
    sim.add_argument("--start-met", type=float, default=None, help="start MET (default: the TLE epoch)")
    sim.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME",
        help="inject a fault (repeatable; 'list' lists them)",
    )
    sim.add_argument(
        "--profile",
        choices=("flight", "light"),
        default="flight",
        help="rates: 'flight' (the LAT's, ~450 events/s; default) or 'light' (~9 events/s, quick tests)",
    )
    sim.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes simulating the flight profile's 30 s stretches (same bytes for any number; "
        "default: the cores available, at most 2)",
    )
    sim.add_argument("--progress", action="store_true", help="show a progress bar")
    rep = sub.add_parser("replay", help="the deliveries a real FT1 + FT2 would have come from, into DIR")
    rep.add_argument("--ft1", required=True, help="real FT1 file (photons: TIME, ENERGY, RA, DEC, RUN_ID)")
    rep.add_argument("--ft2", required=True, help="matching FT2 file (QSJ_1..4, SC_POSITION)")
    rep.add_argument("--out", required=True, help="output directory (deliveries/ and truth/)")
    rep.add_argument("--seed", type=int, default=0, help="random seed (same seed, same bytes)")
    span = rep.add_mutually_exclusive_group()
    span.add_argument(
        "--margin", type=float, default=60.0, help="seconds replayed around each run's photons (default 60)"
    )
    span.add_argument("--whole-intervals", action="store_true", help="replay the whole FT2 good intervals")
    rep.add_argument("--background", action="store_true", help="add the simulated sky and cosmic rays")
    demo = sub.add_parser(
        "demo", help="simulate deliveries and run ingest, halfpipe and L1 on them (what `make demo` runs)"
    )
    demo.add_argument("--home", default=None, help="FERMI_HOME of the demo (default ./demo-output)")
    demo.add_argument("--hours", type=float, default=1.0, help="hours of data (default 1)")
    demo.add_argument("--seed", type=int, default=1, help="random seed")
    demo.add_argument(
        "--profile",
        choices=("flight", "light"),
        default="flight",
        help="simulator rates: 'flight' (the LAT's; default) or 'light' (~9 events/s, quick checks)",
    )
    return parser


def _replay(args: argparse.Namespace) -> int:
    from fermi_latsim.replay import ReplayConfig, replay
    from fermi_sciencetools_shim.errors import InputFileError

    cfg = ReplayConfig(
        seed=args.seed, margin_s=None if args.whole_intervals else args.margin, background=args.background
    )
    try:
        summary = replay(args.ft1, args.ft2, args.out, cfg)
    except (ValueError, InputFileError, OSError) as exc:
        print(f"fermi-latsim replay: error: {exc}", file=sys.stderr)
        return 2
    print(
        f"{summary['photons_replayed']} of {summary['ft1_rows']} FT1 photons replayed, {summary['events']} events "
        f"in {len(summary['runs'])} runs, {len(summary['deliveries'])} deliveries under {args.out}/deliveries; "
        f"truth in {args.out}/truth"
    )
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from fermi_latsim.simulate import FAULTS, SimulationConfig, default_workers, simulate

    if "list" in args.fault:
        for name, what in FAULTS.items():
            print(f"{name:<22} {what}")
        return 0
    try:
        summary = simulate(
            args.out,
            SimulationConfig(
                hours=args.hours,
                seed=args.seed,
                start_met=args.start_met,
                faults=tuple(args.fault),
                profile=args.profile,
                workers=default_workers() if args.workers is None else args.workers,
            ),
            progress=args.progress,
        )
    except ValueError as exc:
        print(f"fermi-latsim simulate: error: {exc}", file=sys.stderr)
        return 2
    print(
        f"{summary['events']} events in {len(summary['runs'])} runs, "
        f"{len(summary['deliveries'])} deliveries under {args.out}/deliveries; truth in {args.out}/truth"
    )
    for name in summary["faults"]:
        print(f"fault injected: {name}: {summary['faults'][name]}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fermi-latsim`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.configure(args)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "simulate":
        return _simulate(args)
    if args.command == "replay":
        return _replay(args)
    if args.command == "demo":
        from fermi_latsim.demo import main as demo_main

        home = ["--home", args.home] if args.home else []
        return demo_main(
            [*home, "--hours", str(args.hours), "--seed", str(args.seed), "--profile", args.profile]
        )
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
