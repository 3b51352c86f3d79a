"""``fermi-isoc retention``: the raw-data retention (archive after N days) and re-run leftovers.

``check`` reports overdue, missing or corrupt deliveries and the ``.rerun-<id>/`` folders of
intermediate outputs moved aside by re-runs (size, age, request state); ``migrate`` archives old
deliveries; ``clean-reruns --older-than DAYS`` removes the re-run folders whose request is done
and that are older than DAYS (never those of pending requests).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from fermi_core.site import Site
from fermi_isoc.db import isoc_session
from fermi_isoc.retention import DEFAULT_KEEP_DAYS, check, clean_reruns, migrate, rerun_folders
from fermi_isoc.retention.reruns import RerunFolder, human_bytes

#: age in days above which ``check`` reports a done request's re-run folder as overdue
DEFAULT_RERUN_DAYS = 30


def _archive_default(site: Site) -> str:
    return os.environ.get("FERMI_ISOC_ARCHIVE", str(site.tape))


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``retention``."""
    p = subparsers.add_parser(
        "retention",
        help="check (or migrate) raw deliveries older than N days to the archive area, report or clean "
        "the outputs moved aside by re-runs (exit: 0 clean, 1 overdue, 2 missing or corrupt)",
    )
    p.add_argument("action", choices=("check", "migrate", "clean-reruns"))
    p.add_argument(
        "--archive", default=None, help="archive area (default: $FERMI_ISOC_ARCHIVE or $FERMI_HOME/tape)"
    )
    p.add_argument(
        "--keep-days", type=float, default=DEFAULT_KEEP_DAYS, help="days kept on disk (default 60)"
    )
    p.add_argument(
        "--older-than",
        type=float,
        default=None,
        metavar="DAYS",
        help="re-run folders: clean-reruns removes those of done requests older than DAYS (required); "
        f"check reports them as overdue (default {DEFAULT_RERUN_DAYS})",
    )
    p.add_argument(
        "--rerun-root",
        default=None,
        help="where the re-run folders are searched (default: $FERMI_HOME/l1)",
    )
    p.add_argument("--dry-run", action="store_true", help="migrate, clean-reruns: report only")
    p.add_argument("--db", help="database URL (default: FERMI_DB_URL)")
    p.set_defaults(handler=run)


def _folder_line(f: RerunFolder) -> str:
    state = f.request_state or "unknown to the database"
    return (
        f"{f.path}: {human_bytes(f.n_bytes)} in {f.n_files} files, {f.age_days:.1f} days old, "
        f"request {f.request_id} {state}"
    )


def _clean(args: argparse.Namespace, root: Path) -> int:
    if args.older_than is None:
        print("fermi-isoc retention: error: clean-reruns needs --older-than DAYS")
        return 2
    with isoc_session(args.db) as session:
        result = clean_reruns(session, root, args.older_than, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for f in result.removed:
        print(f"{verb} {_folder_line(f)}")
    for f, why in result.kept:
        print(f"kept {f.path}: {why}")
    for f, why in result.errors:
        print(f"ERROR {f.path}: not removed: {why}")
    freed = sum(f.n_bytes for f in result.removed)
    print(
        f"re-run folders: {len(result.removed)} {verb} ({human_bytes(freed)}), {len(result.kept)} kept, "
        f"{len(result.errors)} errors"
    )
    return 2 if result.errors else 0


def run(args: argparse.Namespace) -> int:
    """Run the check, the migration or the clean-up; print one line per finding."""
    if args.keep_days <= 0:
        print(f"fermi-isoc retention: error: --keep-days must be positive, got {args.keep_days:g}")
        return 2
    if args.older_than is not None and args.older_than <= 0:
        print(f"fermi-isoc retention: error: --older-than must be positive, got {args.older_than:g}")
        return 2
    site = Site.from_env(db_url=args.db)
    root = Path(args.rerun_root) if args.rerun_root else site.l1
    if args.action == "clean-reruns":
        return _clean(args, root)
    archive = Path(args.archive or _archive_default(site))
    folders: list[RerunFolder] = []
    with isoc_session(args.db) as session:
        if args.action == "check":
            findings = check(session, archive, keep_days=args.keep_days, site=site)
            folders = rerun_folders(session, root)
        else:
            result = migrate(session, archive, keep_days=args.keep_days, dry_run=args.dry_run, site=site)
            for f in result.archived:
                print(f"archived {f.delivery_id}/{f.name}: {f.detail}")
            for delivery_id in result.deleted:
                print(f"removed local copy of {delivery_id} (every file verified on the archive)")
            findings = result.problems
    for f in findings:
        print(f"{f.kind.upper()} {f.delivery_id}{'/' + f.name if f.name else ''}: {f.detail}")
    days = DEFAULT_RERUN_DAYS if args.older_than is None else args.older_than
    overdue = [f for f in folders if f.removable(days)]
    for f in folders:
        label = "RERUN-OVERDUE" if f in overdue else "RERUN-OUTPUTS"
        print(f"{label} {_folder_line(f)}")
    if folders:
        print(
            f"re-run folders: {len(folders)} ({human_bytes(sum(f.n_bytes for f in folders))}), "
            f"{len(overdue)} of done requests older than {days:g} days "
            f"({human_bytes(sum(f.n_bytes for f in overdue))}): "
            f"fermi-isoc retention clean-reruns --older-than {days:g}"
        )
    kinds = {f.kind for f in findings}
    if kinds - {"overdue"}:
        return 2
    return 1 if kinds or overdue else 0
