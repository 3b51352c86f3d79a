"""Command line entry point ``fermi-l1``: ``pipeline``, ``rerun`` and ``catalog``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from fermi_core import logs
from fermi_core.site import Site
from fermi_l1._version import __version__


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``fermi-l1``."""
    parser = argparse.ArgumentParser(
        prog="fermi-l1",
        description="Level 1 processing: digi, reconstruction, merit, FT1/FT2, catalog, FSSC export.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--db-url", help="SQLAlchemy URL (default: $FERMI_DB_URL or sqlite in $FERMI_HOME)")
    parser.add_argument("--home", help="data tree root (default: $FERMI_HOME or ./fermi-data)")
    logs.add_arguments(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "pipeline",
        help="inbox deliveries -> ingest -> halfpipe merge -> digi/recon/merit -> FT2, FT1, catalog, outbox",
    )
    p.add_argument(
        "--from-halfpipe",
        action="store_true",
        help="leave the inbox alone: only L1 of the runs the halfpipe already merged and of run inputs",
    )
    p.add_argument(
        "--min-crumb", type=int, default=1500, help="smallest average crumb, events (default 1500)"
    )
    p.add_argument("--config", help="executor configuration (TOML); default: local process pool")
    p.add_argument("--workers", type=int, help="worker processes of the local pool (default 2)")
    p.add_argument(
        "--max-attempts", type=int, default=3, help="tries per task run on infrastructure failures"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--processing-date",
        help="DATE of new task runs' products, YYYY-MM-DDThh:mm:ss (default: now; kept on re-runs)",
    )

    rr = sub.add_parser(
        "rerun",
        help="request a re-run of a failed step or of a LAT run's whole chain (acted on by the next pipeline pass)",
    )
    rr.add_argument(
        "run", help="task run TASK/KEY (e.g. l1run/r0239557414) or a LAT run (r0239557414 or 239557414)"
    )
    rr.add_argument(
        "--step", help="re-run only this failed step (recon, runinput, l1run); default: the whole chain"
    )
    rr.add_argument("--who", required=True, help="who asks (recorded)")
    rr.add_argument("--why", required=True, help="why (recorded)")

    c = sub.add_parser("catalog", help="list registered products")
    c.add_argument("--type", dest="data_type", help="FT1, EXTENDEDFT1, LS1, FT2, FT2SECONDS")
    c.add_argument("--met-min", type=float, help="products ending at or after this MET")
    c.add_argument("--met-max", type=float, help="products starting at or before this MET")
    c.add_argument("--run", type=int, help="only this run")
    csub = c.add_subparsers(dest="catalog_command", metavar="ACTION")
    r = csub.add_parser(
        "rebuild", help="register the product files the catalog lacks, from their own headers"
    )
    r.add_argument(
        "--products",
        action="append",
        metavar="DIR",
        help="product directory, searched recursively (repeatable; default: $FERMI_HOME/l1/products)",
    )
    return parser


def _site(args: argparse.Namespace) -> Site:
    """The site of the command: ``--home``/``--db-url``, else ``FERMI_HOME``/``FERMI_DB_URL``."""
    return Site.from_env(home=args.home, db_url=args.db_url)


def _run_pipeline(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from fermi_core.engine.executors import ExecutorConfig, make_executor
    from fermi_l1.pipeline.flow import run_pipeline

    site = _site(args)
    try:
        cfg = ExecutorConfig.from_toml(args.config) if args.config else ExecutorConfig()
    except ValueError as exc:  # one line naming the file and the key
        print(f"fermi-l1 pipeline: error: {exc}")
        return 1
    if args.workers:
        cfg.max_workers = args.workers
    executor = make_executor(cfg, site)  # Parsl's run directory under the data home
    try:
        with Progress(disable=args.no_progress) as bar:
            bars: dict[str, object] = {}

            def progress(label: str, done: int, total: int) -> None:
                if label not in bars:
                    bars[label] = bar.add_task(label, total=total)
                bar.update(bars[label], completed=done, total=total)

            flow = run_pipeline(site, executor, inbox=not args.from_halfpipe, max_attempts=args.max_attempts,
                                date=args.processing_date, min_crumb=args.min_crumb, progress=progress)  # fmt: skip
    finally:
        executor.shutdown()
    for task, s in flow.stages.items():
        if task != "l1run":
            print(f"fermi-l1 pipeline: {task}: {s.done} done, {s.failed} failed, {s.crashed} retried, "
                  f"{s.skipped} already finished")  # fmt: skip
    if flow.blocked_runs:
        print(
            f"fermi-l1 pipeline: run(s) {', '.join(map(str, flow.blocked_runs))} wait for failed crumbs (see logs)"
        )
    summary = flow.stages.get("l1run")
    if summary is None:
        print(f"fermi-l1 pipeline: no complete run input under {site.l1_inputs}")
        return 0 if flow.failed == 0 and not flow.blocked_runs else 1
    print(f"fermi-l1 pipeline: {summary.done} done, {summary.failed} failed, "
          f"{summary.crashed} retried, {summary.skipped} already finished")  # fmt: skip
    return 0 if flow.failed == 0 and not flow.blocked_runs else 1


def _run_catalog_rebuild(args: argparse.Namespace) -> int:
    from fermi_l1.catalog.rebuild import rebuild
    from fermi_l1.db import session

    site = _site(args)
    roots = args.products or [str(site.products)]
    try:
        with session(site.db_url) as s:
            report = rebuild(s, roots, site=site)
    except FileNotFoundError as exc:
        print(f"fermi-l1 catalog rebuild: error: {exc}")
        return 1
    for line in report.conflicts + report.skipped:
        print(f"fermi-l1 catalog rebuild: {line}")
    print(
        f"fermi-l1 catalog rebuild: {len(report.added)} added, {report.kept} already catalogued, "
        f"{len(report.conflicts)} conflicting, {len(report.skipped)} skipped"
    )
    return 0 if report.ok else 1


def _run_catalog(args: argparse.Namespace) -> int:
    if getattr(args, "catalog_command", None) == "rebuild":
        return _run_catalog_rebuild(args)
    from rich.console import Console
    from rich.table import Table

    from fermi_l1.catalog.api import query
    from fermi_l1.db import session

    url = _site(args).db_url
    table = Table("type", "run", "version", "nMetStart", "nMetStop", "size", "sha256", "logical path")
    with session(url) as s:
        rows = query(s, data_type=args.data_type, met_min=args.met_min, met_max=args.met_max, run=args.run)
        for r in rows:
            table.add_row(r.data_type, str(r.run), str(r.version), f"{r.met_start:.3f}", f"{r.met_stop:.3f}",
                          str(r.size), r.checksum[:16], r.logical_path)  # fmt: skip
    Console(width=200).print(table)
    print(f"{len(rows)} product(s)")
    return 0


def _run_rerun(args: argparse.Namespace) -> int:
    from fermi_core.engine.rerun import RerunError, request_rerun

    try:
        req = request_rerun(_site(args).db_url, args.run, args.step, who=args.who, why=args.why,
                            origin="cli")  # fmt: skip
    except RerunError as exc:
        print(f"fermi-l1 rerun: refused: {exc}")
        return 1
    what = f"step {req.step} of {req.run}" if req.step else f"{req.run} (whole chain)"
    print(f"fermi-l1 rerun: request {req.id} recorded: {what} by {req.requested_by}: {req.reason}; "
          "the next 'fermi-l1 pipeline' pass acts on it")  # fmt: skip
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fermi-l1`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.configure(args)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "pipeline":
        return _run_pipeline(args)
    if args.command == "rerun":
        return _run_rerun(args)
    return _run_catalog(args)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
