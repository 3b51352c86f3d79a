"""``fermi-isoc rerun``: request a re-run of a failed run or step, with who and why."""

from __future__ import annotations

import argparse
import getpass

from fermi_isoc.db import isoc_session
from fermi_isoc.rerun import RerunError, request_rerun


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``rerun``."""
    p = subparsers.add_parser("rerun", help="request a re-run of a failed pipeline run or step")
    p.add_argument("run", help="pipeline run key, e.g. L1Proc/r0429066902")
    p.add_argument("--step", help="re-run only this step (default: the whole run)")
    p.add_argument("--reason", required=True, help="why (recorded)")
    p.add_argument("--operator", default=None, help="who (default: the login name)")
    p.add_argument("--db", help="database URL (default: FERMI_DB_URL)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Record the request; exit 1 when it is refused."""
    who = args.operator or getpass.getuser()
    try:
        with isoc_session(args.db) as session:
            req = request_rerun(session, args.run, args.step, who, args.reason, origin="cli")
            print(
                f"re-run request {req.id} recorded: {args.run} {args.step or '(whole run)'} by {who}: {args.reason}"
            )
    except RerunError as exc:
        print(f"fermi-isoc rerun: refused: {exc}")
        return 1
    return 0
