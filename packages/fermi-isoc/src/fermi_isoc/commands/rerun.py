"""``fermi-isoc rerun``: request a re-run of a failed step or a whole run, with who and why.

The request is recorded in fermi-l1's ``pipeline_rerun_request``; the next pass of the pipeline
driver requeues the run and marks the request done with the attempts it made.
"""

from __future__ import annotations

import argparse
import getpass

from fermi_isoc.db import isoc_session
from fermi_l1.pipeline.rerun import RerunError, request_rerun


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``rerun``."""
    p = subparsers.add_parser("rerun", help="request a re-run of a failed step or a whole pipeline run")
    p.add_argument("run", help="pipeline run TASK/KEY (e.g. l1run/r0429066902) or a LAT run (r0429066902)")
    p.add_argument("--step", help="re-run only this failed step (default: the whole run)")
    p.add_argument("--reason", required=True, help="why (recorded)")
    p.add_argument("--operator", default=None, help="who (default: the login name)")
    p.add_argument("--db", help="database URL (default: FERMI_DB_URL)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Record the request; exit 1 when it is refused."""
    who = args.operator or getpass.getuser()
    try:
        with isoc_session(args.db) as session:
            req = request_rerun(session, args.run, args.step, who=who, why=args.reason, origin="cli")
            print(
                f"re-run request {req.id} recorded: {req.run} {req.step or '(whole run)'} by {who}: "
                f"{args.reason}; state {req.state}: the next pipeline pass acts on it"
            )
    except RerunError as exc:
        print(f"fermi-isoc rerun: refused: {exc}")
        return 1
    return 0
