"""Command line entry point ``fermi-latsim``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from fermi_latsim._version import __version__


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``fermi-latsim``."""
    parser = argparse.ArgumentParser(
        prog="fermi-latsim",
        description="Simulate LAT telemetry deliveries (orbit, attitude, sky, detector, faults).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
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
    sim.add_argument("--progress", action="store_true", help="show a progress bar")
    return parser


def _simulate(args: argparse.Namespace) -> int:
    from fermi_latsim.simulate import FAULTS, SimulationConfig, simulate

    if "list" in args.fault:
        for name, what in FAULTS.items():
            print(f"{name:<22} {what}")
        return 0
    try:
        summary = simulate(
            args.out,
            SimulationConfig(
                hours=args.hours, seed=args.seed, start_met=args.start_met, faults=tuple(args.fault)
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
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "simulate":
        return _simulate(args)
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
