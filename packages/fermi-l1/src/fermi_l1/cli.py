"""Command line entry point ``fermi-l1``: ``pipeline``, ``rerun``, ``reprocess``, ``campaigns``,
``catalog`` (list, ``rebuild``, ``verify``), ``validate`` (:mod:`fermi_l1.validation.cli`) and
``quality`` (bad time intervals: :mod:`fermi_l1.quality.cli`).

Every command runs through :func:`fermi_core.dbguard.call_guarded` (a database outage is one
line, not a traceback); the drivers (``pipeline``, ``reprocess``) hold the data home's driver
lock (:func:`fermi_core.engine.driver_lock`) for their whole pass.
"""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Sequence

from fermi_core import logs
from fermi_core.dbguard import call_guarded
from fermi_core.site import Site
from fermi_l1._version import __version__

#: exit code of a campaign left with failed versions, and of a catalog that does not verify
EXIT_PROBLEMS = 1


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
    _driver_arguments(p)
    p.set_defaults(handler=_run_pipeline)

    rr = sub.add_parser(
        "rerun",
        help="request a re-run of a failed step or of a LAT run's whole chain (acted on by the next pipeline pass)",
        description="Request a re-run of a failed or crashed step (--step), or of a LAT run's whole chain, acted on "
        "by the next 'fermi-l1 pipeline' pass. Done work of a version whose products are catalogued is refused: "
        "catalogued products are never remade in place; 'fermi-l1 reprocess' makes the next version.",
    )
    rr.add_argument(
        "run", help="task run TASK/KEY (e.g. l1run/r0239557414) or a LAT run (r0239557414 or 239557414)"
    )
    rr.add_argument(
        "--step", help="re-run only this failed step (recon, runinput, l1run); default: the whole chain"
    )
    rr.add_argument("--who", required=True, help="who asks (recorded)")
    rr.add_argument("--why", required=True, help="why (recorded)")
    rr.set_defaults(handler=_run_rerun)

    rp = sub.add_parser(
        "reprocess",
        help="re-make catalogued runs' products with the installed software as their next version "
        "(a campaign: who, why, software, runs, state; resumable)",
        description="Re-make the products of catalogued runs with the installed software, as the next file "
        "version (vVVV) of each run -- or, with --processing-version, under a new processing version (pNNN), "
        "for a changed reconstruction. Old versions stay on disk and in the catalog, superseded. Recorded as "
        "a campaign; after an interruption (even kill -9), '--resume ID' finishes it.",
    )
    which = rp.add_mutually_exclusive_group()
    which.add_argument("--runs", type=int, nargs="+", metavar="RUN", help="these LAT runs")
    which.add_argument("--all", action="store_true", help="every catalogued run")
    which.add_argument("--resume", metavar="CAMPAIGN", help="finish an interrupted campaign (id or name)")
    rp.add_argument("--met-min", type=float, help="catalogued runs ending at or after this MET")
    rp.add_argument("--met-max", type=float, help="catalogued runs starting at or before this MET")
    rp.add_argument("--why", help="why (recorded; required for a new campaign)")
    rp.add_argument("--who", default=None, help="who asks (recorded; default: the login name)")
    rp.add_argument("--name", help="campaign name (default reprocess-<id>)")
    rp.add_argument(
        "--processing-version", type=int, metavar="NNN",
        help="new processing version of the event files (gll_ph_pNNN_...): use when the reconstruction "
        "changed; default: keep each run's processing version, make the next file version",
    )  # fmt: skip
    _driver_arguments(rp)
    rp.set_defaults(handler=_run_reprocess)

    cp = sub.add_parser("campaigns", help="list reprocessing campaigns (who, why, software, runs, state)")
    cp.add_argument("--runs", action="store_true", help="also list each campaign's runs and versions")
    cp.set_defaults(handler=_run_campaigns)

    c = sub.add_parser(
        "catalog", help="list registered products (every version), rebuild or verify the catalog"
    )
    c.add_argument("--type", dest="data_type", help="FT1, EXTENDEDFT1, LS1, FT2, FT2SECONDS")
    c.add_argument("--met-min", type=float, help="products ending at or after this MET")
    c.add_argument("--met-max", type=float, help="products starting at or before this MET")
    c.add_argument("--run", type=int, help="only this run")
    c.add_argument("--latest", action="store_true", help="only the latest version of each product")
    c.set_defaults(handler=_run_catalog)
    csub = c.add_subparsers(dest="catalog_command", metavar="ACTION")
    v = csub.add_parser(
        "verify",
        help="re-hash every catalogued file and every outbox export; one line per missing or changed file",
    )
    v.add_argument("--no-outbox", action="store_true", help="only the catalogued products")
    v.set_defaults(handler=_run_catalog_verify)
    r = csub.add_parser(
        "rebuild", help="register the product files the catalog lacks, from their own headers"
    )
    r.add_argument(
        "--products",
        action="append",
        metavar="DIR",
        help="product directory, searched recursively (repeatable; default: $FERMI_HOME/l1/products)",
    )
    r.set_defaults(handler=_run_catalog_rebuild)
    _add_validation(sub)
    from fermi_l1.quality.cli import add_parser as add_quality

    add_quality(sub)  # quality flag|unflag|list|check (bad time intervals)
    return parser


def _add_validation(sub: argparse._SubParsersAction) -> None:
    """``validate`` of the release validation (absent when that module is not installed)."""
    try:
        from fermi_l1.validation.cli import add_parser
    except ImportError:
        return
    add_parser(sub)


def _driver_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the commands that drive the L1 tasks (``pipeline``, ``reprocess``)."""
    from fermi_l1.pipeline.crumbs import MIN_CRUMB_EVENTS

    p.add_argument(
        "--min-crumb",
        type=int,
        default=MIN_CRUMB_EVENTS,
        help=f"smallest average crumb, events (default {MIN_CRUMB_EVENTS})",
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


def _site(args: argparse.Namespace) -> Site:
    """The site of the command: ``--home``/``--db-url``, else ``FERMI_HOME``/``FERMI_DB_URL``."""
    return Site.from_env(home=args.home, db_url=args.db_url)


def _drive(args: argparse.Namespace, site: Site, command: str, *, inbox: bool) -> object | int:
    """One L1 pass (:func:`fermi_l1.pipeline.flow.run_pipeline`) under the driver lock; the flow, or an exit code."""
    from rich.progress import Progress

    from fermi_core.engine import EXIT_DRIVER_BUSY, DriverBusy, driver_lock
    from fermi_core.engine.executors import ExecutorConfig, make_executor
    from fermi_l1.pipeline.flow import run_pipeline

    try:
        cfg = ExecutorConfig.from_toml(args.config) if args.config else ExecutorConfig()
    except ValueError as exc:  # one line naming the file and the key
        print(f"{command}: error: {exc}")
        return 1
    if args.workers:
        cfg.max_workers = args.workers
    try:
        with driver_lock(site, command):
            executor = make_executor(cfg, site)  # Parsl's run directory under the data home
            try:
                with Progress(disable=args.no_progress) as bar:
                    bars: dict[str, object] = {}

                    def progress(label: str, done: int, total: int) -> None:
                        if label not in bars:
                            bars[label] = bar.add_task(label, total=total)
                        bar.update(bars[label], completed=done, total=total)

                    return run_pipeline(site, executor, inbox=inbox, max_attempts=args.max_attempts,
                                        date=args.processing_date, min_crumb=args.min_crumb,
                                        progress=progress)  # fmt: skip
            finally:
                executor.shutdown()
    except DriverBusy as exc:
        print(f"{command}: {exc}")
        return EXIT_DRIVER_BUSY


def _report_flow(flow, site: Site, command: str) -> int:
    for task, s in flow.stages.items():
        if task != "l1run":
            print(f"{command}: {task}: {s.done} done, {s.failed} failed, {s.crashed} retried, "
                  f"{s.skipped} already finished")  # fmt: skip
    if flow.blocked_runs:
        print(f"{command}: run(s) {', '.join(map(str, flow.blocked_runs))} wait for failed crumbs (see logs)")
    summary = flow.stages.get("l1run")
    if summary is None:
        print(f"{command}: no complete run input under {site.l1_inputs}")
        return 0 if flow.failed == 0 and not flow.blocked_runs else 1
    print(f"{command}: {summary.done} done, {summary.failed} failed, "
          f"{summary.crashed} retried, {summary.skipped} already finished")  # fmt: skip
    return 0 if flow.failed == 0 and not flow.blocked_runs else 1


def _run_pipeline(args: argparse.Namespace) -> int:
    site = _site(args)
    flow = _drive(args, site, "fermi-l1 pipeline", inbox=not args.from_halfpipe)
    return flow if isinstance(flow, int) else _report_flow(flow, site, "fermi-l1 pipeline")


def _run_reprocess(args: argparse.Namespace) -> int:
    from fermi_core.engine import processing_date
    from fermi_halfpipe.published import retired_runs
    from fermi_l1 import campaigns
    from fermi_l1.db import session
    from fermi_l1.pipeline.halfpipe_runs import SAMPLE_MARGIN_S

    command = "fermi-l1 reprocess"
    site = _site(args)
    try:
        with session(site.db_url) as s:
            if args.resume:
                camp = campaigns.get_campaign(s, args.resume)
                cid, name = camp.id, camp.name
                if camp.state != campaigns.RUNNING:
                    print(f"{command}: campaign {cid} ({name}) is {camp.state}: nothing to resume")
                    return 0 if camp.state == campaigns.DONE else EXIT_PROBLEMS
            else:
                if not (args.runs or args.all or args.met_min is not None or args.met_max is not None):
                    print(f"{command}: error: choose the runs: --runs RUN ..., --met-min/--met-max, or --all")
                    return 2
                if not args.why:
                    print(f"{command}: error: --why is required for a new campaign")
                    return 2
                retired = retired_runs(s, site, margin_s=SAMPLE_MARGIN_S)
                camp, skipped = campaigns.create_campaign(
                    s, retired, who=args.who or getpass.getuser(), why=args.why, runs=args.runs,
                    met_min=args.met_min, met_max=args.met_max, processing_version=args.processing_version,
                    processing_date=args.processing_date or processing_date(), name=args.name,
                )  # fmt: skip
                cid, name = camp.id, camp.name
                for line in skipped:
                    print(f"{command}: {line}")
                made = campaigns.versions_of(s, cid)
                print(f"{command}: campaign {cid} ({name}) by {camp.requested_by}: {len(made)} run(s): "
                      + ", ".join(f"{r} -> v{v:03d}" for r, v in made.items()))  # fmt: skip
    except campaigns.CampaignError as exc:
        print(f"{command}: refused: {exc}")
        return 1
    args.processing_date = None  # the campaign's own date is used for its task runs
    flow = _drive(args, site, command, inbox=False)
    if isinstance(flow, int):
        return flow
    _report_flow(flow, site, command)
    with session(site.db_url) as s:
        camp = campaigns.get_campaign(s, cid)
        state, outcome = camp.state, camp.outcome
    if state == campaigns.RUNNING:
        print(f"{command}: campaign {cid} ({name}) is not finished: 'fermi-l1 reprocess --resume {cid}'")
        return EXIT_PROBLEMS
    print(f"{command}: campaign {cid} ({name}) {state}: {outcome}")
    return 0 if state == campaigns.DONE else EXIT_PROBLEMS


def _run_campaigns(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from fermi_l1.campaigns import list_campaigns
    from fermi_l1.db import session

    table = Table("id", "name", "state", "who", "created (UTC)", "runs", "proc", "software", "why", "outcome")
    with session(_site(args).db_url) as s:
        found = list_campaigns(s)
    for c in found:
        soft = c.software.get("fermi-l1", "?")
        table.add_row(str(c.id), c.name, c.state, c.requested_by, f"{c.created_at:%Y-%m-%d %H:%M:%S}",
                      str(len(c.runs)), "" if c.processing_version is None else f"p{c.processing_version:03d}",
                      f"fermi-l1 {soft}", c.reason, c.outcome)  # fmt: skip
    Console(width=200).print(table)
    if args.runs:
        for c in found:
            print(f"campaign {c.id}: " + ", ".join(f"{r} -> v{v:03d}" for r, v in c.runs.items()))
    print(f"{len(found)} campaign(s)")
    return 0


def _run_catalog_verify(args: argparse.Namespace) -> int:
    from fermi_l1.catalog.verify import verify
    from fermi_l1.db import session

    site = _site(args)
    with session(site.db_url) as s:
        report = verify(s, site, outbox=not args.no_outbox)
    for line in report.problems:
        print(f"fermi-l1 catalog verify: {line}")
    print(f"fermi-l1 catalog verify: {report.products} catalogued file(s), {report.exports} export(s) checked, "
          f"{len(report.problems)} problem(s)")  # fmt: skip
    return 0 if report.ok else EXIT_PROBLEMS


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
    from rich.console import Console
    from rich.table import Table
    from sqlalchemy import func, select

    from fermi_l1.catalog.api import query
    from fermi_l1.catalog.models import Dataset
    from fermi_l1.db import session

    url = _site(args).db_url
    table = Table("type", "run", "version", "proc", "status", "lost", "nMetStart", "nMetStop", "size", "sha256",
                  "logical path")  # fmt: skip
    with session(url) as s:
        rows = query(s, data_type=args.data_type, met_min=args.met_min, met_max=args.met_max, run=args.run,
                     latest_only=args.latest)  # fmt: skip
        paths = sorted({r.logical_path for r in rows})
        top = dict(
            s.execute(
                select(Dataset.logical_path, func.max(Dataset.version))
                .where(Dataset.logical_path.in_(paths))
                .group_by(Dataset.logical_path)
            ).all()
        ) if paths else {}  # fmt: skip
        for r in rows:
            status = "latest" if top.get(r.logical_path) == r.version else "superseded"
            if r.supersedes is not None:
                status += f" (supersedes v{r.supersedes:03d})"
            table.add_row(r.data_type, str(r.run), str(r.version), "" if r.proc_ver is None else f"p{r.proc_ver}",
                          status, "" if r.lost_events is None else str(r.lost_events), f"{r.met_start:.3f}",
                          f"{r.met_stop:.3f}", str(r.size), r.checksum[:16], r.logical_path)  # fmt: skip
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
    handler = getattr(args, "handler", None)
    if args.command is None or handler is None:
        parser.print_help()
        return 0
    return call_guarded(f"fermi-l1 {args.command}", lambda: _site(args).db_url, handler, args)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
