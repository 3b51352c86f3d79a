"""``fermi-l1 quality``: record, remove, list bad time intervals; run the automatic rate check.

* ``flag --start T --stop T --reason TEXT --who NAME [--data-qual Q]`` -- ``T`` is a MET (seconds)
  or a UTC time (``2017-08-17T13:35:00``, converted with astropy: leap seconds included);
* ``unflag ID --who NAME --reason TEXT``;
* ``list [--all]`` -- the active intervals (``--all``: the removed ones too, with who/why);
* ``check [--runs RUN ...]`` -- the rate-excursion check on the latest products (default: every
  catalogued run), recording what it finds with source ``auto``.

The next ``fermi-l1 pipeline`` pass re-issues the affected runs as their next version.
"""

from __future__ import annotations

import argparse
import getpass

from fermi_l1.quality.intervals import QualityError

COMMAND = "fermi-l1 quality"


def parse_time(text: str) -> float:
    """A MET from ``text``: a number of seconds, or a UTC ISO time (astropy, leap seconds included).

    Raises
    ------
    argparse.ArgumentTypeError
        Neither a number nor a UTC time.
    """
    try:
        return float(text)
    except ValueError:
        pass
    from fermi_sciencetools_shim.time import utc_to_met

    try:
        return float(utc_to_met(str(text)))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a MET (seconds) nor a UTC time ({exc})"
        ) from None


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``quality`` and its actions on the sub-command parsers of ``fermi-l1``."""
    q = sub.add_parser("quality", help="bad time intervals (FT2 DATA_QUAL): flag, unflag, list, check")
    q.set_defaults(handler=_run_list, show_all=False)
    qsub = q.add_subparsers(dest="quality_command", metavar="ACTION")
    f = qsub.add_parser("flag", help="record a bad time interval; the next pipeline pass re-issues its runs")
    f.add_argument("--start", required=True, type=parse_time, help="MET (s) or UTC (YYYY-MM-DDThh:mm:ss)")
    f.add_argument("--stop", required=True, type=parse_time, help="MET (s) or UTC (YYYY-MM-DDThh:mm:ss)")
    f.add_argument("--reason", required=True, help="why (e.g. 'solar flare', 'ACD anomaly'; recorded)")
    f.add_argument("--who", default=None, help="who records it (default: the login name)")
    f.add_argument(
        "--data-qual", type=int, default=0,
        help="DATA_QUAL of the flagged rows: 0 (bad, default) or negative; excluded by DATA_QUAL>0",
    )  # fmt: skip
    f.set_defaults(handler=_run_flag)
    u = qsub.add_parser(
        "unflag", help="remove a bad time interval; the next pipeline pass re-issues its runs"
    )
    u.add_argument("id", type=int, help="interval id (see 'fermi-l1 quality list')")
    u.add_argument("--who", default=None, help="who removes it (default: the login name)")
    u.add_argument("--reason", required=True, help="why (recorded)")
    u.set_defaults(handler=_run_unflag)
    ls = qsub.add_parser("list", help="the bad time intervals")
    ls.add_argument("--all", dest="show_all", action="store_true", help="also the removed ones")
    ls.set_defaults(handler=_run_list)
    c = qsub.add_parser("check", help="automatic rate-excursion check of the latest products (source 'auto')")
    c.add_argument(
        "--runs", type=int, nargs="+", metavar="RUN", help="these LAT runs (default: every catalogued run)"
    )
    c.set_defaults(handler=_run_check)


def _site(args: argparse.Namespace):
    from fermi_core.site import Site

    return Site.from_env(home=args.home, db_url=args.db_url)


def _run_flag(args: argparse.Namespace) -> int:
    from fermi_l1.db import session
    from fermi_l1.quality.intervals import flag
    from fermi_sciencetools_shim.time import met_to_utc_iso

    try:
        with session(_site(args).db_url) as s:
            iid = flag(s, args.start, args.stop, reason=args.reason, who=args.who or getpass.getuser(),
                       data_qual=args.data_qual)  # fmt: skip
    except QualityError as exc:
        print(f"{COMMAND} flag: refused: {exc}")
        return 1
    print(f"{COMMAND} flag: interval {iid} recorded: MET {args.start:.3f}..{args.stop:.3f} "
          f"({met_to_utc_iso(args.start, 3)} .. {met_to_utc_iso(args.stop, 3)} UTC), DATA_QUAL {args.data_qual}; "
          "the next 'fermi-l1 pipeline' pass re-issues the runs it overlaps")  # fmt: skip
    return 0


def _run_unflag(args: argparse.Namespace) -> int:
    from fermi_l1.db import session
    from fermi_l1.quality.intervals import unflag

    try:
        with session(_site(args).db_url) as s:
            bti = unflag(s, args.id, who=args.who or getpass.getuser(), reason=args.reason)
    except QualityError as exc:
        print(f"{COMMAND} unflag: refused: {exc}")
        return 1
    print(f"{COMMAND} unflag: interval {bti.id} (MET {bti.start_met:.3f}..{bti.stop_met:.3f}) removed by "
          f"{bti.removed_by}: {bti.removed_reason}; the next 'fermi-l1 pipeline' pass re-issues its runs")  # fmt: skip
    return 0


def _run_list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from fermi_l1.db import session
    from fermi_l1.quality.intervals import list_intervals
    from fermi_sciencetools_shim.time import met_to_utc_iso

    table = Table("id", "state", "MET start", "MET stop", "UTC start", "s", "DATA_QUAL", "source", "who", "reason",
                  "removed")  # fmt: skip
    with session(_site(args).db_url) as s:
        found = list_intervals(s, active_only=not args.show_all)
    for i in found:
        removed = "" if i.active else f"{i.removed_by}: {i.removed_reason}"
        table.add_row(str(i.id), "active" if i.active else "removed", f"{i.start_met:.3f}", f"{i.stop_met:.3f}",
                      str(met_to_utc_iso(i.start_met, 3)), f"{i.duration:.1f}", str(i.data_qual), i.source, i.who,
                      i.reason, removed)  # fmt: skip
    Console(width=220).print(table)
    print(f"{len(found)} interval(s)")
    return 0


def _run_check(args: argparse.Namespace) -> int:
    from fermi_l1.catalog.api import catalogued_runs
    from fermi_l1.db import session
    from fermi_l1.quality.auto import check_runs

    site = _site(args)
    with session(site.db_url) as s:
        runs = args.runs or catalogued_runs(s)
        report = check_runs(s, site, runs)
    for run, found in sorted(report.excursions.items()):
        for exc in found:
            print(f"{COMMAND} check: run {run}: MET {exc.start:.3f}..{exc.stop:.3f}: {exc.reason()}")
    print(f"{COMMAND} check: {len(report.checked)} run(s) checked ({len(report.too_short)} too short to judge), "
          f"{len(report.flagged)} interval(s) recorded, {len(report.known)} known already")  # fmt: skip
    return 0
