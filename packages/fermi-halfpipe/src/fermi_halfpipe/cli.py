"""Command line entry point ``fermi-halfpipe``: ``merge``, ``status`` and ``force-complete``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from fermi_core import logs
from fermi_core.errors import BadInput
from fermi_core.site import Site
from fermi_halfpipe._version import __version__
from fermi_halfpipe.losses import describe_hole, describe_total

EXIT_OK = 0
EXIT_REFUSED = 1


def _epus(text: str) -> dict[int, int]:
    """Parse ``956:0,957:1`` (APID:crate pairs)."""
    try:
        pairs = [item.split(":") for item in text.split(",") if item.strip()]
        out = {int(a): int(c) for a, c in pairs}
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: APID:crate pairs expected, e.g. 956:0,957:1") from None
    if len(out) != 2:
        raise argparse.ArgumentTypeError(f"{text!r}: exactly two EPUs expected")
    return out


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``fermi-halfpipe``."""
    parser = argparse.ArgumentParser(
        prog="fermi-halfpipe",
        description="Merge the two EPU event streams of each run into one time-ordered stream.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--home", help="data home (default: $FERMI_HOME or ./fermi-data)")
    parser.add_argument("--db-url", help="SQLAlchemy URL (default: $FERMI_DB_URL or sqlite in the data home)")
    logs.add_arguments(parser)
    parser.add_argument(
        "--epus", type=_epus, help="expected EPU set as APID:crate pairs (default 956:0,957:1)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    m = sub.add_parser("merge", help="decode and merge the event datagrams of an ingested delivery")
    m.add_argument("delivery_id", metavar="DELIVERY_ID")
    m.add_argument(
        "--max-events", type=int, default=1_000_000, help="events per merged file (default 1000000)"
    )
    m.add_argument("--json", action="store_true", help="print the delivery summary as JSON")

    s = sub.add_parser(
        "status",
        help="show runs: status, reason, delivered/held events, datagrams seen, files, missing datagrams "
        "and the events they held (from the GEM sequence: exact, 'about' with an on-board filter, "
        "'at least' when the run end is missing)",
    )
    s.add_argument("run", metavar="RUN", nargs="?", type=int, help="only this run id (MET of its start)")
    s.add_argument("--json", action="store_true", help="print as JSON")

    f = sub.add_parser(
        "force-complete", help="retire an open run as incomplete, delivering its held-back events"
    )
    f.add_argument("run", metavar="RUN", type=int)
    f.add_argument("--reason", required=True, help="why the run is given up (recorded)")
    return parser


def _options(args: argparse.Namespace):
    from fermi_halfpipe.options import HalfpipeOptions

    opts = HalfpipeOptions(max_events=getattr(args, "max_events", 1_000_000))
    if args.epus:
        opts.epu_apids = args.epus
    return opts


def _print_run_line(r: dict) -> None:
    reason = f" — {r['reason']}" if r.get("reason") else ""
    lost = f", in missing datagrams {describe_total(r)}" if r.get("holes") else ""
    malformed = (
        f", unreadable in malformed datagrams {r['lost_in_malformed']}" if r.get("lost_in_malformed") else ""
    )
    print(
        f"run {r['run_id']}: {r['status']}{reason}; delivered {r.get('delivered', 0)}, "
        f"held back {r.get('held_back', 0)}, late {r.get('late', 0)}{lost}{malformed}"
    )


def _print_holes(r: dict) -> None:
    for h in r.get("holes", []):
        print(f"  lost: {describe_hole(h, r.get('lost_exact', True))}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fermi-halfpipe`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    logs.configure(args)
    site = Site.from_env(home=args.home, db_url=args.db_url)
    try:
        if args.command == "merge":
            from fermi_halfpipe.delivery import merge_delivery

            summary = merge_delivery(args.delivery_id, _options(args), site=site)
            if args.json:
                print(json.dumps(summary, indent=1, sort_keys=True))
                return EXIT_OK
            again = " (already merged: nothing done, outputs checked)" if summary.already_merged else ""
            print(
                f"delivery {args.delivery_id}: {len(summary['runs'])} runs, "
                f"{len(summary['problems'])} problems{again}"
            )
            for r in summary["runs"]:
                _print_run_line(r)
                step = r.get("step") or {}
                if step:
                    print(
                        f"  this delivery: delivered {step['delivered']}, late {step['late']}, "
                        f"duplicate datagrams {step['duplicate_datagrams']}"
                    )
                for f in step.get("files", []):
                    print(
                        f"  {f['path']}: {f['n_events']} events, GEM {f['first_gem']}-{f['last_gem']}, sha256 {f['sha256']}"
                    )
                for miss in r["missing"]:
                    print(f"  missing: {miss}")
                _print_holes(r)
            for p in summary["problems"]:
                print(f"  problem: {p}")
            return EXIT_OK
        if args.command == "status":
            from fermi_halfpipe.stitch import run_status

            runs = run_status(args.run, _options(args), site=site)
            if args.run is not None and not runs:
                print(f"fermi-halfpipe: run {args.run}: unknown to the halfpipe", file=sys.stderr)
                return EXIT_REFUSED
            if args.json:
                print(json.dumps(runs, indent=1, sort_keys=True))
                return EXIT_OK
            for r in runs:
                _print_run_line(r)
                for d in r["datagrams"]:
                    print(
                        f"  APID {d['apid']}: datagrams {d['first']}-{d['last']} from delivery {d['delivery']}"
                        + (f" ({d['duplicates']} duplicates)" if d["duplicates"] else "")
                    )
                for h in r["held"]:
                    print(
                        f"  {h['kind']}: {h['n_events']} events of APID {h['apid']}, datagrams "
                        f"{h['datagrams'][0]}-{h['datagrams'][1]}, GEM {h['gem'][0]}-{h['gem'][1]}, in {h['store']}"
                    )
                for miss in r["missing"]:
                    print(f"  missing: {miss}")
                _print_holes(r)
            return EXIT_OK
        if args.command == "force-complete":
            from fermi_halfpipe.stitch import force_complete

            report = force_complete(args.run, args.reason, _options(args), site=site)
            _print_run_line(report)
            return EXIT_OK
    except BadInput as exc:
        print(f"fermi-halfpipe: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    return EXIT_OK  # pragma: no cover - every subcommand returns above


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
