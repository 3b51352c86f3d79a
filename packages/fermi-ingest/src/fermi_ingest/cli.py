"""Command line entry point ``fermi-ingest``: ``ingest``, ``status``, ``gaps`` and ``db``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from fermi_core import logs
from fermi_core.dbguard import EXIT_DATABASE, call_guarded
from fermi_core.site import Site
from fermi_ingest._version import __version__
from fermi_ingest.ccsds.constants import MAX_PACKET_LENGTH
from fermi_ingest.errors import IngestError

EXIT_OK = 0
EXIT_REFUSED = 1
#: the database is unreachable (one line naming it, no traceback)
EXIT_UNREACHABLE = EXIT_DATABASE


def _apids(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: comma-separated integers expected") from None
    if not values or any(not 0 <= v <= 2047 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: APIDs are 0-2047")
    return values


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``fermi-ingest``."""
    parser = argparse.ArgumentParser(
        prog="fermi-ingest",
        description="Level 0 ingest of LAT telemetry deliveries (registry, gaps, chunks, quarantine).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--home", help="data home (default: $FERMI_HOME or ./fermi-data)")
    parser.add_argument("--db-url", help="SQLAlchemy URL (default: $FERMI_DB_URL or sqlite in the data home)")
    logs.add_arguments(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("ingest", help="verify, archive, decode, chunk and register a delivery")
    p.add_argument("path", help="delivery directory (with manifest.json) or a tar of one")
    p.add_argument("--apids", type=_apids, help="accepted APIDs (default 955,956,957,958,1020)")
    p.add_argument("--event-apids", type=_apids, help="APIDs carrying event datagrams (default 956,957)")
    p.add_argument("--scid", type=int, default=77, help="expected spacecraft id (default 77)")
    p.add_argument("--max-packet-length", type=int, default=MAX_PACKET_LENGTH)
    p.add_argument("--max-time-step", type=float, default=60.0, help="time gap threshold, s (default 60)")
    p.add_argument("--min-chunk-bytes", type=int, help="smallest chunk worth a job (default 8 MiB)")

    s = sub.add_parser("status", help="list deliveries, gaps, chunks and quarantined packets")
    s.add_argument("--delivery", help="only this delivery id")

    g = sub.add_parser("gaps", help="list packet gaps (APID, MET range, missing count, state)")
    g.add_argument("--open", action="store_true", help="only gaps not filled yet")

    from fermi_core.migrations import command as db_command

    db_command.add_parser(sub)
    return parser


def _run_ingest(args: argparse.Namespace, out: Console) -> int:
    from fermi_ingest.ingest import IngestOptions, ingest

    opts = IngestOptions(
        scid=args.scid, max_packet_length=args.max_packet_length, max_time_step=args.max_time_step
    )
    if args.apids:
        opts.apids = args.apids
    if args.event_apids:
        opts.event_apids = args.event_apids
    if args.min_chunk_bytes:
        opts.min_chunk_bytes = args.min_chunk_bytes
    res = ingest(args.path, opts, site=args.site)
    if res.already_ingested:
        out.print(f"delivery {res.delivery_id}: already ingested, nothing changed")
        return EXIT_OK
    out.print(
        f"delivery {res.delivery_id}: ingested {res.n_files} files, {res.n_bytes} bytes, {res.n_packets} packets, "
        f"{res.n_chunks} chunks; {len(res.quarantined)} spans quarantined ({res.quarantined_bytes} bytes); "
        f"{len(res.gaps)} gaps found, {res.filled_gaps} earlier gaps filled"
    )
    for line in res.quarantined:
        out.print(f"  quarantined: {line}", markup=False)
    for line in res.gaps:
        out.print(f"  gap: {line}", markup=False)
    return EXIT_OK


def _run_status(args: argparse.Namespace, out: Console) -> int:
    from fermi_core.db import session_scope
    from fermi_ingest.models import Chunk, Delivery, DeliveryFile, Gap, QuarantinedSpan

    with session_scope(args.db_url) as session:
        q = select(Delivery).order_by(Delivery.id)
        if args.delivery:
            q = q.where(Delivery.delivery_id == args.delivery)
        deliveries = session.scalars(q).all()
        if args.delivery and not deliveries:
            out.print(f"delivery {args.delivery}: not registered")
            return EXIT_REFUSED
        names = {d.id: d.delivery_id for d in session.scalars(select(Delivery))}
        t = Table(title="deliveries")
        for col in (
            "delivery",
            "state",
            "files",
            "bytes",
            "packets",
            "quarantined",
            "chunks",
            "MET start",
            "MET stop",
        ):
            t.add_column(col)
        for d in deliveries:
            t.add_row(
                d.delivery_id, d.state, str(d.n_files), str(d.n_bytes), str(d.n_packets),
                f"{d.n_quarantined} ({d.quarantined_bytes} B)", str(len(d.chunks)),
                "" if d.met_start is None else f"{d.met_start:.3f}", "" if d.met_stop is None else f"{d.met_stop:.3f}",
            )  # fmt: skip
        out.print(t)
        pks = [d.id for d in deliveries]
        out.print(
            _gap_table(
                session.scalars(select(Gap).where(Gap.found_by_pk.in_(pks)).order_by(Gap.id)).all(), names
            )
        )
        c = Table(title="chunks")
        for col in (
            "delivery",
            "chunk",
            "run",
            "APIDs",
            "MET start",
            "MET stop",
            "packets",
            "datagrams",
            "bytes",
        ):
            c.add_column(col)
        for ch in session.scalars(
            select(Chunk).where(Chunk.delivery_pk.in_(pks)).order_by(Chunk.delivery_pk, Chunk.number)
        ):
            c.add_row(
                names[ch.delivery_pk], str(ch.number), "" if ch.run_id is None else str(ch.run_id), ch.apids,
                f"{ch.met_start:.3f}", f"{ch.met_stop:.3f}", str(ch.n_packets), str(ch.n_datagrams), str(ch.n_bytes),
            )  # fmt: skip
        out.print(c)
        qt = Table(title="quarantined")
        for col in ("delivery", "file", "offset", "bytes", "reason", "APID"):
            qt.add_column(col)
        rows = session.execute(
            select(QuarantinedSpan, DeliveryFile.name)
            .join(DeliveryFile, DeliveryFile.id == QuarantinedSpan.file_pk)
            .where(QuarantinedSpan.delivery_pk.in_(pks))
            .order_by(QuarantinedSpan.id)
        ).all()
        for qs, fname in rows:
            qt.add_row(
                names[qs.delivery_pk],
                fname,
                str(qs.offset),
                str(qs.length),
                qs.reason,
                "" if qs.apid is None else str(qs.apid),
            )
        out.print(qt)
    return EXIT_OK


def _gap_table(rows, names: dict[int, str]) -> Table:
    t = Table(title="gaps")
    for col in ("APID", "kind", "missing", "seq", "MET from", "MET to", "between deliveries", "state"):
        t.add_column(col)
    for g in rows:
        state = g.status if g.filled_by_pk is None else f"{g.status} by {names.get(g.filled_by_pk, '?')}"
        t.add_row(
            str(g.apid), g.kind, str(g.missing), f"{g.seq_before}->{g.seq_after}", f"{g.met_before:.6f}",
            f"{g.met_after:.6f}", f"{names.get(g.delivery_before_pk, '?')}..{names.get(g.delivery_after_pk, '?')}", state,
        )  # fmt: skip
    return t


def _run_gaps(args: argparse.Namespace, out: Console) -> int:
    from fermi_core.db import session_scope
    from fermi_ingest.models import Delivery, Gap

    with session_scope(args.db_url) as session:
        names = {d.id: d.delivery_id for d in session.scalars(select(Delivery))}
        q = select(Gap).order_by(Gap.apid, Gap.met_before)
        if args.open:
            q = q.where(Gap.status == "open")
        out.print(_gap_table(session.scalars(q).all(), names))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fermi-ingest`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    logs.configure(args)
    args.site = Site.from_env(home=args.home, db_url=args.db_url)
    args.db_url = args.site.db_url
    out = Console(width=200, soft_wrap=True)
    from fermi_core.db import SchemaVersionError
    from fermi_core.migrations import command as db_command

    run = {"ingest": _run_ingest, "status": _run_status, "gaps": _run_gaps, "db": db_command.run}[
        args.command
    ]

    def handler() -> int:
        try:
            return run(args, out)
        except (IngestError, SchemaVersionError) as exc:
            print(f"fermi-ingest {args.command}: error: {exc}", file=sys.stderr)
            return EXIT_REFUSED

    return call_guarded(f"fermi-ingest {args.command}", args.db_url, handler, exit_code=EXIT_UNREACHABLE)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
