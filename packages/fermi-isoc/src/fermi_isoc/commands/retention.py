"""``fermi-isoc retention``: check or apply the raw-data retention (archive after N days)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from fermi_ingest.config import fermi_home
from fermi_isoc.db import isoc_session
from fermi_isoc.retention import DEFAULT_KEEP_DAYS, check, migrate


def _archive_default() -> str:
    return os.environ.get("FERMI_ISOC_ARCHIVE", str(fermi_home() / "tape"))


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``retention``."""
    p = subparsers.add_parser(
        "retention",
        help="check (or migrate) raw deliveries older than N days to the archive area "
        "(exit: 0 clean, 1 overdue, 2 missing or corrupt)",
    )
    p.add_argument("action", choices=("check", "migrate"))
    p.add_argument(
        "--archive", default=None, help="archive area (default: $FERMI_ISOC_ARCHIVE or $FERMI_HOME/tape)"
    )
    p.add_argument(
        "--keep-days", type=float, default=DEFAULT_KEEP_DAYS, help="days kept on disk (default 60)"
    )
    p.add_argument("--dry-run", action="store_true", help="migrate: report only")
    p.add_argument("--db", help="database URL (default: FERMI_DB_URL)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the check or the migration; print one line per finding."""
    if args.keep_days <= 0:
        print(f"fermi-isoc retention: error: --keep-days must be positive, got {args.keep_days:g}")
        return 2
    archive = Path(args.archive or _archive_default())
    with isoc_session(args.db) as session:
        if args.action == "check":
            findings = check(session, archive, keep_days=args.keep_days)
        else:
            result = migrate(session, archive, keep_days=args.keep_days, dry_run=args.dry_run)
            for f in result.archived:
                print(f"archived {f.delivery_id}/{f.name}: {f.detail}")
            for delivery_id in result.deleted:
                print(f"removed local copy of {delivery_id} (every file verified on the archive)")
            findings = result.problems
    for f in findings:
        print(f"{f.kind.upper()} {f.delivery_id}{'/' + f.name if f.name else ''}: {f.detail}")
    kinds = {f.kind for f in findings}
    if kinds - {"overdue"}:
        return 2
    return 1 if kinds else 0
