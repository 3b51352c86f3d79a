"""``fermi-isoc rerun``: request a re-run of a failed step or a whole task run / LAT run, with who and why.

The request is filed through the task engine's API (:func:`fermi_core.engine.rerun.request_rerun`,
no dependency on fermi-l1); the next pass of the pipeline driver requeues the task runs and
marks the request done with the attempts it made.
"""

from __future__ import annotations

import argparse
import getpass

from fermi_core.engine.rerun import RerunError, request_rerun
from fermi_isoc.db import isoc_session


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``rerun``."""
    p = subparsers.add_parser(
        "rerun", help="request a re-run of a failed step, a task run or a LAT run's chain"
    )
    p.add_argument("run", help="task run TASK/KEY (e.g. l1run/r0429066902) or a LAT run (r0429066902)")
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
