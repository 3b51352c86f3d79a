"""``fermi-core db upgrade|current|check`` (also ``fermi-ingest db ...``): the schema of every installed package."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from fermi_core.migrations import runner

EXIT_OK = 0
EXIT_REFUSED = 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``db`` command group to the subparsers ``sub`` of ``fermi-ingest``."""
    db = sub.add_parser("db", help="database schema of every installed package: upgrade, current, check")
    dbsub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = dbsub.add_parser("upgrade", help="apply the pending migrations of every installed package")
    up.add_argument(
        "--to",
        action="append",
        default=[],
        metavar="PACKAGE=REVISION",
        help="stop PACKAGE (ingest, halfpipe, l1 ...) at REVISION instead of its newest (repeatable)",
    )
    dbsub.add_parser("current", help="revision of each package in the database and the newest known")
    dbsub.add_parser(
        "check", help="exit 1 unless every package is at its newest revision and the tables match the models"
    )


def _targets(items: list[str], names: set[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, rev = item.partition("=")
        if not sep or not rev:
            raise ValueError(f"--to {item!r}: PACKAGE=REVISION expected")
        if name not in names:
            raise ValueError(f"--to {item!r}: no installed package has the schema {name!r} ({sorted(names)})")
        out[name] = rev
    return out


def run(args: argparse.Namespace, out: Console) -> int:
    """Run ``fermi-ingest db <action>``; return the exit code."""
    from fermi_core.db import default_url, engine_for, normalize_url, safe_url

    url = normalize_url(args.db_url or default_url())
    engine = engine_for(url)  # no schema check: this command is what repairs it
    if args.db_command == "upgrade":
        names = {s.name for s in runner.discover()}
        try:
            targets = _targets(args.to, names)
        except ValueError as exc:
            out.print(f"fermi-core db upgrade: error: {exc}", markup=False)
            return EXIT_REFUSED
        with engine.connect():  # reachable before the first line: an outage is the one line of call_guarded
            pass
        out.print(f"database {safe_url(url)}", markup=False)
        runner.upgrade(engine, targets, echo=lambda line: out.print(line, markup=False))
        return EXIT_OK
    with engine.connect() as conn:
        statuses = runner.status(conn)
    if args.db_command == "current":
        table = Table(title=f"schema of {safe_url(url)}")
        for col in ("package", "version table", "database", "newest known", "state"):
            table.add_column(col)
        for st in statuses:
            table.add_row(st.spec.distribution, st.spec.version_table, st.revision or "-", st.head, st.state)
        out.print(table)
        return EXIT_OK
    bad = [st for st in statuses if st.state != "current"]
    for st in bad:
        out.print(
            f"{st.spec.distribution}: {st.state} (database {st.revision or '-'}, newest {st.head})",
            markup=False,
        )
    diffs = runner.check(engine) if not bad else []
    for line in diffs:
        out.print(f"differs from the models: {line}", markup=False)
    if bad or diffs:
        return EXIT_REFUSED
    out.print(f"{len(statuses)} package schemas current, tables match the models", markup=False)
    return EXIT_OK
