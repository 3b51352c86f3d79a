"""Command line entry point ``fermi-halfpipe``: ``merge``, ``status``, ``settle``, ``accept``, ``force-complete``.

The completion deadline (``--deadline-deliveries``, ``--deadline-hours``) defaults to the
environment settings ``FERMI_HALFPIPE_DEADLINE_DELIVERIES`` and ``FERMI_HALFPIPE_DEADLINE_HOURS``
(:meth:`fermi_halfpipe.options.HalfpipeOptions.from_env`), else 3 deliveries and 12 h. The
mission-planning table the runs' configuration keys are checked against (``--planning-table``)
defaults to ``FERMI_HALFPIPE_PLANNING_TABLE``, else the shipped table
(:mod:`fermi_halfpipe.planning`); a run whose keys differ is held in state ``mismatch`` until
``accept``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from fermi_core import logs
from fermi_core.dbguard import call_guarded
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
    parser.add_argument(
        "--deadline-deliveries",
        type=int,
        metavar="N",
        help="completion policy: an open run is due once N later deliveries brought it no data "
        "(default $FERMI_HALFPIPE_DEADLINE_DELIVERIES or 3)",
    )
    parser.add_argument(
        "--deadline-hours",
        type=float,
        metavar="H",
        help="completion policy: an open run is due H hours after its last data arrived, whichever "
        "comes first (default $FERMI_HALFPIPE_DEADLINE_HOURS or 12)",
    )
    parser.add_argument(
        "--planning-table",
        metavar="PATH",
        help="mission-planning table (TOML) the runs' configuration keys are checked against "
        "(default $FERMI_HALFPIPE_PLANNING_TABLE or the shipped table)",
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

    t = sub.add_parser(
        "settle",
        help="apply the completion deadline to every open run: complete a due run with its loss "
        "counted, reject a due run that breaks the exactly-two-EPU rule (idempotent)",
    )
    t.add_argument("--json", action="store_true", help="print the settled runs as JSON")

    a = sub.add_parser(
        "accept",
        help="accept a rejected run, or one held for a configuration-key mismatch: merge its events, "
        "Level 1 takes it",
    )
    a.add_argument("run", metavar="RUN", type=int)
    a.add_argument("--reason", required=True, help="why the run is accepted (recorded)")
    a.add_argument("--who", required=True, help="who accepts it (recorded)")
    return parser


def _options(args: argparse.Namespace):
    from fermi_halfpipe.options import HalfpipeOptions

    return HalfpipeOptions.from_env(
        max_events=getattr(args, "max_events", None),
        epu_apids=args.epus,
        deadline_deliveries=args.deadline_deliveries,
        deadline_hours=args.deadline_hours,
        planning_table=args.planning_table,
    )


def _deadline(r: dict) -> str:
    """``; deadline …`` for a held or overdue run (its wall-time deadline and deliveries left)."""
    if r.get("state") not in ("held", "overdue"):
        return ""
    parts = []
    if r.get("deadline_utc"):
        parts.append(r["deadline_utc"].replace("+00:00", "Z"))
    if r.get("deliveries_left") is not None:
        parts.append(f"after {r['deliveries_left']} more deliveries without data")
    return f"; deadline {' or '.join(parts)}" if parts else ""


def _print_run_line(r: dict) -> None:
    reason = f" — {r['reason']}" if r.get("reason") else ""
    lost = f", in missing datagrams {describe_total(r)}" if r.get("holes") else ""
    malformed = (
        f", unreadable in malformed datagrams {r['lost_in_malformed']}" if r.get("lost_in_malformed") else ""
    )
    revision = f", revision {r['revision']}" if r.get("revision", 0) > 1 else ""
    print(
        f"run {r['run_id']}: {r.get('state') or r['status']}{reason}; delivered {r.get('delivered', 0)}, "
        f"held back {r.get('held_back', 0)}, late {r.get('late', 0)}{lost}{malformed}{revision}{_deadline(r)}"
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
    return call_guarded(f"fermi-halfpipe {args.command}", lambda: site.db_url, _run, args, site)


def _run(args: argparse.Namespace, site: Site) -> int:
    """The handler of the command in ``args``; its exit code."""
    try:
        opts = _options(args)
    except ValueError as exc:  # a bad setting in the environment or on the command line
        print(f"fermi-halfpipe: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    try:
        if args.command == "merge":
            from fermi_halfpipe.delivery import merge_delivery

            summary = merge_delivery(args.delivery_id, opts, site=site)
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

            runs = run_status(args.run, opts, site=site)
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

            report = force_complete(args.run, args.reason, opts, site=site)
            _print_run_line(report)
            return EXIT_OK
        if args.command == "settle":
            from fermi_halfpipe.policy import settle_runs

            done = settle_runs(site, options=opts)
            if args.json:
                print(json.dumps([d.as_dict() for d in done], indent=1, sort_keys=True))
                return EXIT_OK
            print(f"settled {len(done)} runs")
            for d in done:
                print(f"run {d.run_id}: {d.state} — {d.reason}")
            return EXIT_OK
        if args.command == "accept":
            from fermi_halfpipe.policy import accept_run

            report = accept_run(site, args.run, reason=args.reason, who=args.who, options=opts)
            _print_run_line(report)
            return EXIT_OK
    except BadInput as exc:
        print(f"fermi-halfpipe: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    return EXIT_OK  # pragma: no cover - every subcommand returns above


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
