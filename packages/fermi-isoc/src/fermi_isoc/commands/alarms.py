"""``fermi-isoc alarms``: evaluate the alarms and print them; the exit code is the worst severity.

``fermi-isoc alarms ack ALARM/ITEM --who W --note TEXT`` acknowledges a firing warning or error
from the command line, as the page does: it needs the operator token (typed at a prompt or read
from ``--token-file``, never given on the command line), checked against
``FERMI_ISOC_OPERATOR_TOKEN``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import math
import os
import sys

from rich.console import Console
from rich.table import Table

from fermi_isoc.alarms import AlarmConfigError, Context, Severity, evaluate, load_alarms, worst
from fermi_isoc.alarms.acks import AckError, acknowledge
from fermi_isoc.alarms.config import runbook_path
from fermi_isoc.alarms.prometheus import render
from fermi_isoc.alarms.results import AlarmResult
from fermi_isoc.db import isoc_session
from fermi_isoc.web.security import TOKEN_ENV, token_problem

#: Exit code for an unusable alarm file (Nagios "unknown").
EXIT_CONFIG = 3
#: Exit code when the database cannot be reached: the "critical" (error) severity, since nothing
#: else can then be watched.
EXIT_CRITICAL = int(Severity.ERROR)
#: Exit code of a refused acknowledgement.
EXIT_REFUSED = 1
_STYLE = {Severity.OK: "green", Severity.WARNING: "yellow", Severity.ERROR: "bold red"}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``alarms``."""
    p = subparsers.add_parser(
        "alarms",
        help="evaluate the alarms (exit code: 0 ok, 1 warning, 2 error or database unreachable, 3 bad alarm file)",
    )
    p.add_argument("--config", help="alarm TOML file (default: the package's default_alarms.toml)")
    p.add_argument("--db", help="database URL (default: FERMI_DB_URL)")
    p.add_argument("--all", action="store_true", help="also list alarms that are ok")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the results as JSON")
    out.add_argument("--prometheus", action="store_true", help="print the Prometheus metrics text")
    p.set_defaults(handler=run)
    sub = p.add_subparsers(dest="alarms_action", metavar="ACTION")
    ack = sub.add_parser(
        "ack",
        help="acknowledge a firing warning or error (needs the operator token); exit 1 when refused",
        description="Acknowledge an alarm item: it is shown as acknowledged and stops paging until its "
        "severity changes. The operator token is read from --token-file or typed at the prompt.",
    )
    ack.add_argument(
        "alarm_key",
        metavar="ALARM_KEY",
        help="ALARM/ITEM as listed by 'fermi-isoc alarms' (e.g. failed-attempts/l1run/r0239557414), or "
        "ALARM alone when it has a single firing item",
    )
    ack.add_argument("--who", required=True, help="operator name (recorded)")
    ack.add_argument("--note", default="", help="why it can wait (recorded)")
    ack.add_argument(
        "--token-file", help="file holding the operator token ('-': standard input); default: prompt"
    )
    ack.add_argument("--config", default=argparse.SUPPRESS, help="alarm TOML file")
    ack.add_argument("--db", default=argparse.SUPPRESS, help="database URL (default: FERMI_DB_URL)")
    ack.set_defaults(handler=run_ack, job=False)  # not a run of the alarms job


def _read_token(path: str | None) -> str:
    """The operator token typed at a prompt or read from ``path`` (first line; ``-``: stdin)."""
    if path is None:
        return getpass.getpass("operator token: ")
    if path == "-":
        return sys.stdin.readline().strip()
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.readline().strip()
    except OSError as exc:
        raise AckError(f"--token-file {path}: cannot read it: {exc.strerror}", status=400) from exc


def _item(results: list[AlarmResult], alarm_key: str) -> AlarmResult:
    """The result named ``ALARM/ITEM`` (or ``ALARM`` with one firing warning or error item)."""
    exact = [r for r in results if f"{r.alarm}/{r.key}" == alarm_key]
    if exact:
        return exact[0]
    same = [r for r in results if r.alarm == alarm_key]
    if not same:
        known = sorted({r.alarm for r in results})
        raise AckError(f"no alarm item {alarm_key!r}: alarms are {', '.join(known)}", status=404)
    firing = [r for r in same if r.firing and r.severity != Severity.OK]
    if len(firing) == 1:
        return firing[0]
    if not firing:
        raise AckError(f"alarm {alarm_key} has no warning or error item: nothing to acknowledge")
    items = ", ".join(f"{alarm_key}/{r.key}" for r in firing)
    raise AckError(f"alarm {alarm_key} has {len(firing)} firing items: name one of {items}", status=400)


def run_ack(args: argparse.Namespace) -> int:
    """Acknowledge one alarm item; return 0, or 1 when refused (with the reason), 3 for a bad alarm file."""
    try:
        specs = load_alarms(getattr(args, "config", None))
    except AlarmConfigError as exc:
        print(f"fermi-isoc alarms ack: error: {exc}")
        return EXIT_CONFIG
    try:
        configured = os.environ.get(TOKEN_ENV) or None  # none configured: refused without asking
        problem = token_problem(configured, _read_token(args.token_file) if configured else None)
        if problem:
            raise AckError(problem, status=403)
        with isoc_session(getattr(args, "db", None)) as session:
            ctx = Context(session)
            r = _item(evaluate(specs, ctx), args.alarm_key)
            ack = acknowledge(session, [r], r.alarm, r.key, args.who, args.note, ctx.now)
            level = {1: "warning", 2: "error"}[ack.severity]
            print(
                f"alarm {r.alarm} ({r.key}) acknowledged at {level} by {ack.acknowledged_by}"
                f"{': ' + ack.note if ack.note else ''}; it stops paging until its severity changes"
            )
    except AckError as exc:
        print(f"fermi-isoc alarms ack: refused: {exc}")
        return EXIT_REFUSED
    return 0


def run(args: argparse.Namespace) -> int:
    """Evaluate and print; return the worst severity (or 3 for a bad alarm file)."""
    try:
        specs = load_alarms(args.config)
    except AlarmConfigError as exc:
        print(f"fermi-isoc alarms: error: {exc}")
        return EXIT_CONFIG
    with isoc_session(args.db) as session:
        ctx = Context(session)
        results = evaluate(specs, ctx)
    if args.prometheus:
        print(render(results, ctx.now), end="")
    elif args.json:
        print(
            json.dumps(
                [
                    {
                        "alarm": r.alarm,
                        "quantity": r.quantity,
                        "key": r.key,
                        "value": None if math.isnan(r.value) else r.value,
                        "severity": r.severity.name.lower(),
                        "firing": r.firing,
                        "message": r.message,
                        "excused": r.excused,
                        "acknowledged": r.acknowledged,
                        "runbook": runbook_path(r.runbook),
                    }
                    for r in results
                ],
                indent=2,
            )
        )
    else:
        table = Table(title=f"ISOC alarms at {ctx.now:%Y-%m-%d %H:%M:%S} UTC")
        for column in ("severity", "alarm", "item", "message", "runbook"):
            table.add_column(column, overflow="fold")
        shown = [r for r in results if args.all or r.firing or r.excused]
        for r in shown:
            if r.excused:
                label = "excused"
            elif r.firing and r.severity == Severity.OK:
                label = "firing"
            else:
                label = r.severity.name.lower()
            note = r.message + (f" [excused: {r.excused}]" if r.excused else "")
            table.add_row(f"[{_STYLE[r.severity]}]{label}[/]", r.alarm, r.key, note, runbook_path(r.runbook))
        Console(width=200).print(table)
        print(f"worst severity: {worst(results).name.lower()}")
    return int(worst(results))
