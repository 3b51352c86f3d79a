"""Command line entry point ``fermi-isoc``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from fermi_core import logs
from fermi_core.db import default_url
from fermi_core.dbguard import EXIT_DATABASE, call_guarded
from fermi_isoc._version import __version__
from fermi_isoc.commands import alarms, dq, plan, report, rerun, retention, saareport, serve, trend
from fermi_isoc.jobs import JOBS, JobBusy, job_run

#: exit code of a scheduled job refused because another instance runs
EXIT_BUSY = 4
#: exit codes meaning a job could not do its work (recorded as a failure by the watchdog)
FAILURE_CODES = {"alarms": {3}, "retention": set(), "report": {2}}
#: exit code of a command whose database is unreachable (default :data:`fermi_core.dbguard.EXIT_DATABASE`)
DATABASE_EXIT_CODES = {"alarms": alarms.EXIT_CRITICAL}


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``fermi-isoc``."""
    parser = argparse.ArgumentParser(
        prog="fermi-isoc",
        description="Instrument operations: status page, alarms, retention, planning, trending.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    logs.add_arguments(parser)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (serve, alarms, rerun, dq, retention, plan, saareport, report, trend):
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fermi-isoc`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.configure(args)
    if args.command is None:
        parser.print_help()
        return 0
    return call_guarded(
        f"fermi-isoc {args.command}",
        lambda: getattr(args, "db", None) or default_url(),
        _dispatch,
        args,
        exit_code=DATABASE_EXIT_CODES.get(args.command, EXIT_DATABASE),
    )


def _dispatch(args: argparse.Namespace) -> int:
    """Run the command's handler (a scheduled job inside its job record) and return its exit code."""
    if args.command not in JOBS or not getattr(args, "job", True):
        return int(args.handler(args))
    try:  # scheduled jobs: single instance, last success recorded for the watchdog
        with job_run(args.command, getattr(args, "db", None)) as job:
            code = int(args.handler(args))
            if code in FAILURE_CODES[args.command]:
                job.error = f"exit code {code}"
    except JobBusy as exc:
        print(f"fermi-isoc {args.command}: refused: {exc}")
        return EXIT_BUSY
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
