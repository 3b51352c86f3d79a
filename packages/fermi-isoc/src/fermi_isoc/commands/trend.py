"""``fermi-isoc trend ingest [--since MET]``: record trending samples from the pipeline's outputs."""

from __future__ import annotations

import argparse

from fermi_isoc.db import isoc_session
from fermi_isoc.trending.feed import BIN_S, ingest
from fermi_sciencetools_shim.errors import ShimError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``trend``."""
    p = subparsers.add_parser("trend", help="feed trending from the pipeline's outputs")
    sub = p.add_subparsers(dest="trend_command", metavar="ACTION", required=True)
    i = sub.add_parser("ingest", help="record samples from merged event files and FT2 files not recorded yet")
    i.add_argument("--since", type=float, help="only data ending at or after this MET (s)")
    i.add_argument("--bin", type=float, default=BIN_S, help=f"time bin of rates (s, default {BIN_S:g})")
    i.add_argument("--db", help="database URL (default: FERMI_DB_URL)")
    i.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Ingest and print what was recorded."""
    try:
        with isoc_session(args.db) as session:
            summary = ingest(session, since=args.since, bin_s=args.bin)
    except (OSError, ValueError, ShimError) as exc:
        print(f"fermi-isoc trend ingest: error: {exc}")
        return 2
    print(
        f"trend ingest: {len(summary.files_read)} file(s) read, {len(summary.files_skipped)} already recorded"
    )
    for quantity, n in sorted(summary.samples.items()):
        print(f"  {quantity}: {n} samples")
    return 0
