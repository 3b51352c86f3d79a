"""Monitoring benchmark (not a test): the data-quality monitoring's cost as a fraction of L1's time.

    python ci/bench_monitoring.py [--hours 1] [--profile flight|light] [--workers 1] [--home DIR] [--json OUT]

1. simulates ``--hours`` of telemetry (the ``flight`` profile when the simulator has it, else
   ``light``, said so) into a fresh data home, ingests and merges every delivery;
2. times ``fermi-l1 pipeline --from-halfpipe`` (digi -> recon -> FT1/FT2 -> catalog -> outbox ->
   monitoring) with ``--workers`` workers: L1's time, the monitoring included;
3. times the monitoring's own parts on the same data, in this process: the digi histograms of
   every merged file (:func:`fermi_l1.monitoring.fill.write_crumb_histograms`, after a decode that
   is not counted: recon decodes anyway), and the run step of every run
   (:func:`fermi_l1.monitoring.step.monitor_run_version` as a new version: merit histograms,
   MONITOR file, catalog, checks, verdict; the plots timed apart);
4. prints the figures and the fraction (monitoring / L1, target <= 10 %); exit 1 above the target.

The first numba call is made before timing.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

TARGET = 0.10


def _quiet(fn, argv):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return fn(argv)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--profile", default="flight")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--home", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    home = (args.home or Path(tempfile.mkdtemp(prefix="bench-monitoring-"))).resolve()
    where = ["--home", str(home), "--db-url", f"sqlite:///{home / 'fermi.db'}"]

    from fermi_core.site import Site
    from fermi_halfpipe.cli import main as halfpipe
    from fermi_halfpipe.outputs import read_merged
    from fermi_ingest.cli import main as ingest
    from fermi_l1.cli import main as l1
    from fermi_l1.db import session
    from fermi_l1.digi import decode_events
    from fermi_l1.monitoring import step
    from fermi_l1.monitoring.fill import write_crumb_histograms
    from fermi_latsim import simulate as sim

    profile = args.profile
    if profile not in getattr(sim, "PROFILES", {"light": None}):
        print(f"profile {profile!r} not in this simulator; using 'light'")
        profile = "light"
    t0 = time.perf_counter()
    cfg = sim.SimulationConfig(hours=args.hours, seed=7, profile=profile)
    summary = sim.simulate(home / "latsim", cfg)
    ids = [d["delivery_id"] for d in summary["deliveries"]]
    for did in ids:
        _quiet(ingest, [*where, "ingest", str(home / "latsim" / "deliveries" / did)])
    for did in ids:
        _quiet(halfpipe, [*where, "merge", did])
    t_prep = time.perf_counter() - t0

    t0 = time.perf_counter()
    rc = _quiet(l1, [*where, "pipeline", "--from-halfpipe", "--no-progress", "--workers", str(args.workers)])
    t_l1 = time.perf_counter() - t0
    if rc != 0:
        print(f"fermi-l1 pipeline exited {rc}")
        return 2

    site = Site(home)
    plot_time = [0.0]
    make_plots = step.make_plots

    def timed_plots(*a, **k):
        t = time.perf_counter()
        try:
            return make_plots(*a, **k)
        finally:
            plot_time[0] += time.perf_counter() - t

    step.make_plots = timed_plots
    t_digi = t_run = 0.0
    n_events = 0
    bench_version = 99
    runs = sorted(p for p in site.l1_inputs.iterdir() if (p / "run.json").is_file())
    warm = True
    for folder in runs:
        info = json.loads((folder / "run.json").read_text())
        run = int(info["run"])
        work = site.l1_work_dir(run, bench_version)
        work.mkdir(parents=True, exist_ok=True)
        for i, f in enumerate(info["provenance"]["merged_files"]):
            ev = read_merged(site.resolve(f["relpath"]), sha256=f["sha256"])
            digi = decode_events(ev.records_buffer, ev.offsets, ev.lengths, errors="flag")
            n_events += digi.n_events
            if warm:  # compile / load the kernels first
                write_crumb_histograms(work / "warm.parquet", digi)
                (work / "warm.monitor.parquet").unlink()
                warm = False
            t = time.perf_counter()
            write_crumb_histograms(work / f"c{i:04d}-k000.parquet", digi)
            t_digi += time.perf_counter() - t
        chunks = sorted((folder / "merit").glob("*.parquet"))
        t = time.perf_counter()
        with session(site.db_url) as s:
            step.monitor_run_version(s, site, run, bench_version, info["start"], info["stop"], chunks)
        t_run += time.perf_counter() - t
    total = t_digi + t_run
    figures = {
        "profile": profile, "hours": args.hours, "runs": len(runs), "events": n_events, "workers": args.workers,
        "simulate_ingest_merge_s": round(t_prep, 2), "l1_pipeline_s": round(t_l1, 2),
        "monitor_digi_s": round(t_digi, 3), "monitor_run_step_s": round(t_run, 3),
        "monitor_plots_s": round(plot_time[0], 3), "monitor_total_s": round(total, 3),
        "fraction_of_l1": round(total / t_l1, 4), "target": TARGET,
    }  # fmt: skip
    for k, v in figures.items():
        print(f"{k:>24}: {v}")
    print(f"monitoring = {100 * total / t_l1:.1f} % of L1's time (target <= {100 * TARGET:.0f} %)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0 if total / t_l1 <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
