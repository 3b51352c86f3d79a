"""``fermi-isoc trend``: record trending samples from the pipeline's outputs and from input files."""

from __future__ import annotations

import argparse

from fermi_isoc.db import isoc_session
from fermi_isoc.trending.feed import BIN_S, ingest
from fermi_isoc.trending.files import TrendFileError, record_file
from fermi_sciencetools_shim.errors import ShimError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``trend``."""
    p = subparsers.add_parser("trend", help="feed trending from the pipeline's outputs and input files")
    sub = p.add_subparsers(dest="trend_command", metavar="ACTION", required=True)
    i = sub.add_parser("ingest", help="record samples from merged event files and FT2 files not recorded yet")
    i.add_argument("--since", type=float, help="only data ending at or after this MET (s)")
    i.add_argument("--bin", type=float, default=BIN_S, help=f"time bin of rates (s, default {BIN_S:g})")
    i.add_argument("--db", help="database URL (default: FERMI_DB_URL)")
    i.set_defaults(handler=run)
    for kind, text in (
        ("cal", "calorimeter calibration CSV: utc,tower,layer,log,mev_per_dac_large,mev_per_dac_small "
                "(1536 crystals per calibration)"),
        ("ssr", "SSR housekeeping CSV: utc,lat_packet_counter (16-bit LAT packet counter samples)"),
    ):  # fmt: skip
        f = sub.add_parser(kind, help=f"record a {text}")
        f.add_argument("file", help="the input file (recorded once; the same bytes again add nothing)")
        f.add_argument("--db", help="database URL (default: FERMI_DB_URL)")
        f.set_defaults(handler=run_file, kind=kind)


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


def run_file(args: argparse.Namespace) -> int:
    """Record a calibration or SSR file; exit 2 on bad input."""
    try:
        with isoc_session(args.db) as session:
            counts = record_file(session, args.kind, args.file)
    except TrendFileError as exc:
        print(f"fermi-isoc trend {args.kind}: error: {exc}")
        return 2
    if not counts:
        print(f"trend {args.kind}: {args.file} already recorded")
    for quantity, n in sorted(counts.items()):
        print(f"trend {args.kind}: {quantity}: {n} samples from {args.file}")
    return 0
