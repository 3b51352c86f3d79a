"""``fermi-isoc alarms``: evaluate the alarms and print them; the exit code is the worst severity."""

from __future__ import annotations

import argparse
import json
import math

from rich.console import Console
from rich.table import Table

from fermi_isoc.alarms import AlarmConfigError, Context, Severity, evaluate, load_alarms, worst
from fermi_isoc.alarms.prometheus import render
from fermi_isoc.db import isoc_session

#: Exit code for an unusable alarm file (Nagios "unknown").
EXIT_CONFIG = 3
_STYLE = {Severity.OK: "green", Severity.WARNING: "yellow", Severity.ERROR: "bold red"}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``alarms``."""
    p = subparsers.add_parser(
        "alarms", help="evaluate the alarms (exit code: 0 ok, 1 warning, 2 error, 3 bad alarm file)"
    )
    p.add_argument("--config", help="alarm TOML file (default: the package's default_alarms.toml)")
    p.add_argument("--db", help="database URL (default: FERMI_DB_URL)")
    p.add_argument("--all", action="store_true", help="also list alarms that are ok")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the results as JSON")
    out.add_argument("--prometheus", action="store_true", help="print the Prometheus metrics text")
    p.set_defaults(handler=run)


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
                    }
                    for r in results
                ],
                indent=2,
            )
        )
    else:
        table = Table(title=f"ISOC alarms at {ctx.now:%Y-%m-%d %H:%M:%S} UTC")
        for column in ("severity", "alarm", "item", "message"):
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
            table.add_row(f"[{_STYLE[r.severity]}]{label}[/]", r.alarm, r.key, note)
        Console(width=160).print(table)
        print(f"worst severity: {worst(results).name.lower()}")
    return int(worst(results))
