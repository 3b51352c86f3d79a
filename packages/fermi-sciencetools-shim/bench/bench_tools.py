#!/usr/bin/env python
"""Benchmark gtmktime and gtltcube of the shim on multi-year synthetic 30 s FT2 files.

The FT2 is the real weekly file ``pint/lat_spacecraft_weekly_w323_p202_v001.fits`` (one week
of rows, START within 604800 s of the first) tiled in time: copy k has START/STOP shifted by
k x 604800 s. It is written in a temporary folder, with a one-event FT1 whose GTI spans it.
gtltcube runs on ``--years`` of it (default 1: about 0.9 M rows); gtmktime, which is cheap,
on ``--mktime-years`` (default 4: about 3.6 M rows).

The timings (whole tool calls: reading, computing, writing; elapsed and CPU seconds) are
printed in seconds per million FT2 rows beside the Fermitools figures of the fermipy run in
``gammapy_tests_fermi/out.log`` (16-year FT2, about 16.8 M rows: gtmktime 412 s, gtltcube
7722 s with binsz 1, dcostheta 0.025, zmax 105), with the ratio, the threads used and the
load average (the machine may be shared: run it when it is quiet).

Usage: ``python bench_tools.py [--years 1] [--mktime-years 4] [--data ../shared/data]``. Not a test.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from astropy.io import fits

WEEK = 604800.0
REAL_ROWS_M = 16.8
REAL_SECONDS = {"gtmktime": 412.0, "gtltcube": 7722.0}
ROOT = Path(__file__).resolve().parents[3]


def build_ft2(source: Path, weeks: int, out: Path) -> tuple[int, float, float]:
    """Write ``weeks`` time-shifted copies of one week of ``source`` to ``out``; return rows, t0, t1."""
    with fits.open(source) as hdul:
        sc = hdul["SC_DATA"]
        t0 = float(sc.data["START"][0])
        week = sc.data[(sc.data["START"] >= t0) & (sc.data["STOP"] <= t0 + WEEK)]
        n1 = len(week)
        hdu = fits.BinTableHDU.from_columns(sc.columns, nrows=n1 * weeks, header=sc.header)
        start_col, stop_col = hdu.data["START"], hdu.data["STOP"]
        for name in sc.columns.names:
            column = hdu.data[name]
            src = week[name]
            for k in range(weeks):
                column[k * n1 : (k + 1) * n1] = src
        for k in range(weeks):
            start_col[k * n1 : (k + 1) * n1] += k * WEEK
            stop_col[k * n1 : (k + 1) * n1] += k * WEEK
        t1 = float(stop_col[-1])
        hdu.header["TSTART"], hdu.header["TSTOP"] = t0, t1
        fits.HDUList([fits.PrimaryHDU(header=hdul[0].header), hdu]).writeto(out, overwrite=True)
    return n1 * weeks, t0, t1


def build_ft1(out: Path, t0: float, t1: float) -> None:
    """Write a minimal FT1 (one event) whose GTI and TSTART/TSTOP span ``[t0, t1]``."""
    from fermi_sciencetools_shim.gti import Gti
    from fermi_sciencetools_shim.io.ft1 import FT1_COLUMNS, write_ft1

    events = {spec.name: np.zeros(1) for spec in FT1_COLUMNS if spec.name not in ("CALIB_VERSION",)}
    events.update(
        ENERGY=np.array([1000.0]), RA=np.array([83.63]), DEC=np.array([22.01]), TIME=np.array([t0 + 100.0])
    )
    events.update(EVENT_CLASS=np.array([128]), EVENT_TYPE=np.array([1]))
    write_ft1(out, events, Gti.from_intervals([t0], [t1]), {"TSTART": t0, "TSTOP": t1, "PASS_VER": "P8R3"})


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    """Build the synthetic FT2 files, time both tools, print the comparison; return 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--years", type=float, default=1.0, help="FT2 length for gtltcube (default 1)")
    parser.add_argument("--mktime-years", type=float, default=4.0, help="FT2 length for gtmktime (default 4)")
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("FERMI_SHARED_DATA", ROOT.parent / "shared" / "data")),
    )
    parser.add_argument("--skip-mktime", action="store_true", help="time gtltcube only")
    args = parser.parse_args(argv)
    source = args.data / "pint" / "lat_spacecraft_weekly_w323_p202_v001.fits"
    if not source.is_file():
        print(f"bench_tools: error: {source} not found (set --data)", file=sys.stderr)
        return 1
    from fermi_sciencetools_shim.ltcube.gtltcube import gtltcube
    from fermi_sciencetools_shim.ltcube.livetime import default_threads
    from fermi_sciencetools_shim.mktime.gtmktime import gtmktime

    def weeks(years: float) -> int:
        return max(1, round(years * 365.25 * 86400 / WEEK))

    results: dict[str, tuple[float, float, int, str]] = {}
    with tempfile.TemporaryDirectory(prefix="shim-bench-") as tmp:
        tmpdir = Path(tmp)

        def build(name: str, years: float) -> tuple[Path, Path, int]:
            ft2, ft1 = tmpdir / f"ft2_{name}.fits", tmpdir / f"ft1_{name}.fits"
            t = time.perf_counter()
            nrows, t0, t1 = build_ft2(source, weeks(years), ft2)
            build_ft1(ft1, t0, t1)
            print(f"synthetic FT2 for {name}: {weeks(years)} weeks, {nrows} rows, "
                  f"{ft2.stat().st_size / 1e6:.0f} MB (built in {time.perf_counter() - t:.1f} s)")  # fmt: skip
            return ft2, ft1, nrows

        # compile the numba kernels (or load them from the cache) on a small input first:
        # compilation is not per-row work
        small, small_ft1, _ = build("warm-up", 1 / 52)
        t = time.perf_counter()
        gtltcube(
            str(small), str(tmpdir / "warm.fits"), str(small_ft1), binsz=1.0, dcostheta=0.025, zmax=105.0
        )
        print(f"warm-up (numba compile or cache load): {time.perf_counter() - t:.1f} s")

        if not args.skip_mktime:
            ft2, ft1, nrows = build("gtmktime", args.mktime_years)
            load = _load()
            t, cpu = time.perf_counter(), time.process_time()
            gtmktime(str(ft2), "DATA_QUAL>0 && LAT_CONFIG==1", False, str(ft1), str(tmpdir / "ft1_mkt.fits"))
            results["gtmktime"] = (time.perf_counter() - t, time.process_time() - cpu, nrows, load)
            ft2.unlink()

        ft2, ft1, nrows = build("gtltcube", args.years)
        load = _load()
        t, cpu = time.perf_counter(), time.process_time()
        gtltcube(str(ft2), str(tmpdir / "ltcube.fits"), str(ft1), binsz=1.0, dcostheta=0.025, zmax=105.0)
        results["gtltcube"] = (time.perf_counter() - t, time.process_time() - cpu, nrows, load)

    print(f"\ngtltcube: binsz 1 (NSIDE 64), dcostheta 0.025, zmax 105; {default_threads()} kernel threads")
    print("wall: elapsed seconds; cpu: process CPU seconds summed over threads (the figure least")
    print("affected by other work on a shared machine); Fermitools: one thread, elapsed seconds")
    print(f"{'tool':<9} {'M rows':>7} {'wall s':>7} {'wall s/Mrow':>12} {'cpu s/Mrow':>11} "
          f"{'Fermitools s/Mrow':>18} {'speed-up wall':>14} {'per cpu-s':>10}  load average before")  # fmt: skip
    for tool, (seconds, cpu_seconds, nrows, load) in results.items():
        mrows = nrows / 1e6
        ours, ours_cpu = seconds / mrows, cpu_seconds / mrows
        real = REAL_SECONDS[tool] / REAL_ROWS_M
        print(f"{tool:<9} {mrows:7.3f} {seconds:7.1f} {ours:12.1f} {ours_cpu:11.1f} {real:18.1f} "
              f"{real / ours:13.1f}x {real / ours_cpu:9.1f}x  {load}")  # fmt: skip
    print(
        f"\nextrapolated to {REAL_ROWS_M} M rows (16 years): "
        + ", ".join(f"{k} {v[0] / v[2] * 1e6 * REAL_ROWS_M:.0f} s (Fermitools {REAL_SECONDS[k]:.0f} s)"
                    for k, v in results.items())
    )  # fmt: skip
    print(f"target: speed-up >= 10x; load average now {_load()} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
