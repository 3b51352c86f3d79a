"""``make demo``: simulate an hour of deliveries at the LAT's flight rates, then run every pipeline stage.

The hour is the flight profile (``--profile flight``, about 1.3 M events read out, 0.5 GB of
telemetry), simulated on the available cores (at most 2); ``--profile light`` keeps the small
rate (about 9 events/s) for quick checks.

Stages are called through their public commands, in-process. A stage whose command is not there
yet is named as such; nothing is faked: the summary lists only files the stages really wrote.
"""

from __future__ import annotations

import argparse
import importlib
import os
import time
from collections.abc import Sequence
from pathlib import Path

from fermi_core.site import Site
from fermi_latsim.simulate import SimulationConfig, default_workers, simulate

#: (module with build_parser/main, subcommand, what it does)
STAGES = (
    ("fermi_ingest.cli", "ingest", "verify, decode, find gaps, chunk each delivery"),
    ("fermi_halfpipe.cli", "merge", "decode datagrams, merge the EPUs, stitch runs"),
    ("fermi_l1.cli", "pipeline", "digi -> recon -> FT1/FT2, data catalog, outbox"),
)


def _run(module_name: str, argv: list[str]) -> int:
    module = importlib.import_module(module_name)
    try:
        return int(module.main(argv) or 0)
    except SystemExit as exc:  # argparse errors
        return int(exc.code or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; ``--home`` (default ``$FERMI_HOME`` or ``./demo-output``), ``--hours`` (1), ``--profile`` (flight)."""
    parser = argparse.ArgumentParser(prog="fermi-latsim-demo", description=__doc__)
    parser.add_argument("--home", default=None, help="FERMI_HOME of the demo (default ./demo-output)")
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", choices=("flight", "light"), default="flight")
    args = parser.parse_args(argv)
    home = Path(args.home or os.environ.get("FERMI_DEMO_HOME", "demo-output")).resolve()
    site = Site(home, os.environ.get("FERMI_DB_URL", "").strip())
    home.mkdir(parents=True, exist_ok=True)
    where = ["--home", str(site.home), "--db-url", site.db_url]
    t0 = time.monotonic()
    print(f"FERMI_HOME = {home}")
    print(f"Simulating {args.hours:g} h of LAT telemetry ({args.profile} profile, seed {args.seed}) ...")
    cfg = SimulationConfig(hours=args.hours, seed=args.seed, profile=args.profile, workers=default_workers())
    summary = simulate(home / "latsim", cfg)
    deliveries = [d["delivery_id"] for d in summary["deliveries"]]
    print(
        f"  {len(deliveries)} deliveries, {len(summary['runs'])} runs, {summary['events']} events read out "
        f"({summary['arrivals']} particles arrived, {summary['not_triggered']} did not trigger), "
        f"{summary['spacecraft_records']} attitude/orbit records  [{time.monotonic() - t0:.0f} s]"
    )
    status: dict[str, str] = {}
    for module_name, command, what in STAGES:
        label = f"{module_name.split('.')[0]} {command}"
        print(f"{label} ({what}) ...")
        if command == "ingest":
            rcs = [
                _run(module_name, [*where, "ingest", str(home / "latsim" / "deliveries" / d)])
                for d in deliveries
            ]
        elif command == "merge":
            rcs = [_run(module_name, [*where, "merge", d]) for d in deliveries]
        else:
            rcs = [_run(module_name, [*where, command, "--from-halfpipe", "--no-progress"])]
        failed = sum(rc != 0 for rc in rcs)
        status[label] = f"ran {len(rcs)} time(s), {failed} failed" + (
            "" if not failed else " (see messages above)"
        )
        print(f"  {status[label]}  [{time.monotonic() - t0:.0f} s]")
        if failed:
            break
    print("\nSummary")
    print(
        f"  deliveries : {len(deliveries)} ({', '.join(deliveries)}) under {home / 'latsim' / 'deliveries'}"
    )
    print(f"  events in  : {summary['events']} (truth: {home / 'latsim' / 'truth' / 'events.parquet'})")
    for label, text in status.items():
        print(f"  {label:<22}: {text}")
    for line in _records_summary(site):
        print(line)
    print(f"Done in {time.monotonic() - t0:.0f} s.")
    return 0


def _fits_rows(path: Path, extname: str) -> int | None:
    from astropy.io import fits

    try:
        with fits.open(path) as hdul:
            return int(hdul[extname].header["NAXIS2"]) if extname in hdul else None
    except OSError:
        return None


def _records_summary(site: Site) -> list[str]:
    """What the stages recorded: runs (halfpipe), gaps and quarantine (ingest), products (catalog).

    Read from their database tables, so the summary shows only what really happened.
    """
    home = site.home
    if site.db_url.startswith("sqlite") and not (home / "fermi.db").exists():
        return ["  (no database written: no stage ran)"]
    lines: list[str] = []
    from sqlalchemy import func, select

    from fermi_core.db import session_scope
    from fermi_ingest.models import Gap, QuarantinedSpan

    with session_scope(site.db_url) as session:
        n_gaps = session.scalar(select(func.count()).select_from(Gap)) or 0
        n_open = session.scalar(select(func.count()).select_from(Gap).where(Gap.status == "open")) or 0
        n_quar = session.scalar(select(func.count()).select_from(QuarantinedSpan)) or 0
    lines.append(f"  gaps       : {n_gaps} found, {n_open} still open; quarantined spans: {n_quar}")
    try:
        from fermi_halfpipe.stitch import run_status

        runs = run_status(site=site)
    except Exception as exc:
        runs = []
        lines.append(f"  runs       : halfpipe status not available ({exc})")
    delivered = sum(r["delivered"] for r in runs)
    held = sum(r["held_back"] for r in runs)
    lines.append(f"  runs       : {len(runs)}; events merged {delivered}, held back {held}")
    for r in runs:
        lines.append(
            f"    run {r['run_id']}: {r['status']}, delivered {r['delivered']}, held back {r['held_back']}"
            + (f", late {r['late']}" if r["late"] else "")
        )
    try:
        from fermi_l1.catalog.api import product_path, query
        from fermi_l1.monitoring.published import run_verdicts

        with session_scope(site.db_url) as session:
            products = [(d.data_type, d.run, product_path(d, site)) for d in query(session, latest_only=True)]
            verdicts = {v.run: v.verdict for v in run_verdicts(session)}
    except Exception as exc:
        products = []
        lines.append(f"  products   : catalog not available ({exc})")
    events_out = 0
    lines.append(f"  products   : {len(products)} registered in the data catalog")
    for data_type, run, path in products:
        if data_type == "MONITOR":  # data-quality histograms (Parquet): the checks' verdict
            lines.append(f"    {data_type:<12} run {run}: {'verdict ' + verdicts.get(run, '?'):<14} {path}")
            continue
        ext = "SC_DATA" if data_type.startswith("FT2") else "EVENTS"
        rows = _fits_rows(Path(path), ext)
        if Path(path).name.startswith("gll_xp"):
            events_out += rows or 0
        what = f"{rows} {'rows' if ext == 'SC_DATA' else 'events'}" if rows is not None else "unreadable!"
        lines.append(f"    {data_type:<12} run {run}: {what:<14} {path}")
    if products:
        lines.append(f"  events out : {events_out} in the extended FT1 files (gll_xp)")
    outbox = home / "outbox"
    if outbox.is_dir():
        lines.append(f"  FSSC outbox: {outbox} ({sum(1 for _ in outbox.iterdir())} exports)")
    return lines
