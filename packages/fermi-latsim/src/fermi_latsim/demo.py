"""``make demo``: simulate about an hour of deliveries, then run every pipeline stage that exists.

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

from fermi_latsim.simulate import SimulationConfig, simulate

#: (module with build_parser/main, subcommand, what it does)
STAGES = (
    ("fermi_ingest.cli", "ingest", "verify, decode, find gaps, chunk each delivery"),
    ("fermi_halfpipe.cli", "merge", "decode datagrams, merge the EPUs, stitch runs"),
    ("fermi_l1.cli", "pipeline", "digi -> recon -> FT1/FT2, data catalog, outbox"),
)


def _has_command(module_name: str, command: str) -> bool:
    try:
        module = importlib.import_module(module_name)
        parser = module.build_parser()
    except Exception:
        return False
    for action in parser._actions:  # argparse keeps subcommands here; no public accessor
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            return True
    return False


def _run(module_name: str, argv: list[str]) -> int:
    module = importlib.import_module(module_name)
    try:
        return int(module.main(argv) or 0)
    except SystemExit as exc:  # argparse errors
        return int(exc.code or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; ``--home`` (default ``$FERMI_HOME`` or ``./demo-output``), ``--hours`` (1)."""
    parser = argparse.ArgumentParser(prog="fermi-latsim-demo", description=__doc__)
    parser.add_argument("--home", default=None, help="FERMI_HOME of the demo (default ./demo-output)")
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    home = Path(args.home or os.environ.get("FERMI_DEMO_HOME", "demo-output")).resolve()
    os.environ["FERMI_HOME"] = str(home)
    home.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    print(f"FERMI_HOME = {home}")
    print(f"Simulating {args.hours:g} h of LAT telemetry (seed {args.seed}) ...")
    summary = simulate(home / "latsim", SimulationConfig(hours=args.hours, seed=args.seed))
    deliveries = [d["delivery_id"] for d in summary["deliveries"]]
    print(
        f"  {len(deliveries)} deliveries, {len(summary['runs'])} runs, {summary['events']} events read out "
        f"({summary['arrivals']} particles arrived, {summary['not_triggered']} did not trigger), "
        f"{summary['spacecraft_records']} attitude/orbit records  [{time.monotonic() - t0:.0f} s]"
    )
    status: dict[str, str] = {}
    for module_name, command, what in STAGES:
        label = f"{module_name.split('.')[0]} {command}"
        if not _has_command(module_name, command):
            status[label] = f"not available yet ({what})"
            print(f"{label}: not available yet ({what}); later stages skipped.")
            break
        print(f"{label} ...")
        if command == "ingest":
            rcs = [_run(module_name, ["ingest", str(home / "latsim" / "deliveries" / d)]) for d in deliveries]
        elif command == "merge":
            rcs = [_run(module_name, ["merge", d]) for d in deliveries]
        else:
            rcs = [_run(module_name, [command, "--from-halfpipe", "--no-progress"])]
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
    print(f"  runs       : {len(summary['runs'])}")
    print(f"  events in  : {summary['events']} (truth: {home / 'latsim' / 'truth' / 'events.parquet'})")
    for label, text in status.items():
        print(f"  {label:<22}: {text}")
    products = sorted(p for p in home.rglob("*") if p.is_file() and "latsim" not in p.relative_to(home).parts)
    print(f"  files written by the pipeline stages: {len(products)}")
    for p in products[:20]:
        print(f"    {p.relative_to(home)}")
    if len(products) > 20:
        print(f"    ... and {len(products) - 20} more")
    print(f"Done in {time.monotonic() - t0:.0f} s.")
    return 0
